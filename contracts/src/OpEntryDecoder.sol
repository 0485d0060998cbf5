// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {OpEntry, OpEntryCodec} from "./lib/OpEntryCodec.sol";
import {StepSpec, MicroSite} from "./lib/MicroSite.sol";
import {SiteWords} from "./lib/SiteWords.sol";

/// @title OpEntryDecoder
/// @notice The op half of the one-step of docs/SPEC.md 6.8, deployed on its own so that `OpStepVerifier`
///         stays within EIP-170's code size: decodes an op entry (6.5), checks it the way trace-vm's
///         `decode_op` does, and locates the operands of one step (`Site::step`, 6.3).
contract OpEntryDecoder {
    /// @notice The decoded op entry (its element program left out) and, when `1 ≤ t ≤ N·S` (an op
    ///         step's micro list, 6.8), the step that produces entry `t`: step `(t − 1) mod S` of
    ///         element `⌊(t − 1) / S⌋`; packed by `SiteWords`. A gather's operands are located for
    ///         index word 0: the caller reads the index t and adds `t · row` (`attrs[0]`) to the table
    ///         operands. Reverts (`StepRejected`) when the entry is malformed.
    function site(bytes calldata entry, uint256 t) external pure returns (uint256[] memory) {
        OpEntry memory o = OpEntryCodec.decode(entry);
        StepSpec memory spec;
        uint256 sCount = o.stepCount;
        if (t != 0 && t <= o.outLen * sCount) spec = MicroSite.step(o, (t - 1) / sCount, (t - 1) % sCount);
        (uint256 head, uint256 size) = SiteWords.pack(o, spec);
        // The packed words are already the ABI encoding: returned as they lie, not copied again.
        assembly ("memory-safe") {
            return(head, size)
        }
    }
}
