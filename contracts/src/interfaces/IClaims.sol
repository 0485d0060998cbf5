// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IClaims
/// @notice Inference claims: "model M on input X gives output Y, and its trace has root R", each backed
///         by a bond. A claim that nobody refutes within the challenge window finalizes and its bond
///         becomes withdrawable by the claimant. Payments are pulled: every amount owed to an account is
///         credited to it and leaves the contract only through `withdraw`.
/// @dev The claim's content is kept as one hash (`claimHash`) to keep posting cheap; the fields are
///      in the `ClaimPosted` event, and the input and output bytes are in the posting transaction's
///      calldata.
interface IClaims {
    enum Status {
        None,
        Pending,
        Finalized
    }

    /// @notice A claim's state.
    /// @param claimant Who posted it; defends it in disputes and receives its bond back.
    /// @param bond The claimant's bond, in wei.
    /// @param deadline End of the challenge window (block timestamp, exclusive).
    /// @param status Lifecycle state.
    /// @param claimHash `claimHashOf(modelId, keccak256(input), keccak256(output), traceRoot)`.
    struct Claim {
        address claimant;
        uint96 bond;
        uint64 deadline;
        Status status;
        bytes32 claimHash;
    }

    /// @notice A claim was posted. `input` and `output` are in the transaction's calldata.
    event ClaimPosted(
        uint256 indexed claimId,
        address indexed claimant,
        bytes32 indexed modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint256 bond,
        uint64 deadline
    );

    /// @notice An unrefuted claim finalized after its window; its bond was credited to the claimant.
    event ClaimFinalized(uint256 indexed claimId, address indexed claimant, uint256 bond);

    /// @notice `account` withdrew `amount` wei of its credited balance.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Posts a claim with `msg.value` as its bond.
    /// @param modelId A model registered in `registry()`.
    /// @param input The input bytes (at most `MAX_PAYLOAD_BYTES`).
    /// @param output The claimed output bytes (at most `MAX_PAYLOAD_BYTES`).
    /// @param traceRoot `trace_root` of the execution (docs/SPEC.md 4.8), nonzero.
    /// @return claimId Sequential, from 0.
    function postClaim(bytes32 modelId, bytes calldata input, bytes calldata output, bytes32 traceRoot)
        external
        payable
        returns (uint256 claimId);

    /// @notice Finalizes a pending claim whose challenge window has passed; anyone may call it.
    function finalize(uint256 claimId) external;

    /// @notice Sends the caller its whole credited balance.
    function withdraw() external;

    /// @notice The claim `claimId`; reverts with `UnknownClaim` if there is none.
    function getClaim(uint256 claimId) external view returns (Claim memory);

    /// @notice `keccak256(abi.encode(modelId, inputHash, outputHash, traceRoot))`.
    function claimHashOf(bytes32 modelId, bytes32 inputHash, bytes32 outputHash, bytes32 traceRoot)
        external
        pure
        returns (bytes32);

    /// @notice Number of claims posted.
    function claimCount() external view returns (uint256);

    /// @notice Wei credited to `account` and not yet withdrawn.
    function balanceOf(address account) external view returns (uint256);

    /// @notice Wei held as bonds of pending claims.
    function totalBonded() external view returns (uint256);
}
