// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IStepVerifier
/// @notice The one-step of a dispute game: how a state of the last level is committed as a leaf, and
///         whether one primitive applied to a state gives another.
interface IStepVerifier {
    /// @notice The leaf committed for the encoded `state`.
    function leafHash(bytes calldata state) external view returns (bytes32);

    /// @notice Re-executes the primitive at `path` (one step index per level) of the computation
    ///         named by `context` on `pre`, and says whether `post` is its result. `roots` are the
    ///         roots of the lists the game went through, one per level (`roots[0]` the claim's list,
    ///         `roots[k]` the expansion of step `path[k - 1]`; as many as `path`): what the step's
    ///         operands are proven against. Returns false (never reverts) for a malformed state.
    function verify(
        bytes32 context,
        uint64[] calldata path,
        bytes32[] calldata roots,
        bytes calldata pre,
        bytes calldata post
    ) external view returns (bool);
}
