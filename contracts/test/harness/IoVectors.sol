// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Vm} from "../utils/Vm.sol";
import {IoState} from "../../src/lib/IoState.sol";

/// @notice The claim IO vectors bisection writes (`claim_io_vectors_for_the_contract_are_up_to_date`
///         in bisection/tests/machine_game.rs regenerates them and fails when they are stale):
///         `states` (encoding, state root), `malformed` (encoding, the Rust decoder's reason) and
///         `posts` (label, IClaims.postClaim's arguments but the model id) of realistic claims.
library IoVectors {
    function json(Vm vm) internal view returns (string memory) {
        return vm.readFile(string.concat(vm.projectRoot(), "/test/vectors/claim-io.json"));
    }
}

/// @notice IoState behind an external call, so that tests pass it calldata and catch its reverts.
contract IoStateHarness {
    function stateRoot(bytes calldata io) external pure returns (bytes32 root) {
        (root,) = IoState.stateRoot(io, "input");
    }
}
