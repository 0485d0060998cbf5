// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IClaims
/// @notice Inference claims: "model M on input X gives output Y, and its trace has root R", each backed
///         by a bond. A claim that nobody refutes within the challenge window finalizes and its bond
///         becomes withdrawable by the claimant. Payments are pulled: every amount owed to an account is
///         credited to it and leaves the contract only through `withdraw`.
///      During the window anyone may `challenge` a claim with a bond: that opens a dissection game
///      (IDisputeGame) between the claimant and the challenger; any number run in parallel. A claim
///      never finalizes while one of its games is open; `settle` pays out a finished game.
/// @dev The claim's content is kept as one hash (`claimHash`) to keep posting cheap; the fields are
///      in the `ClaimPosted` event, and the input and output bytes are in the posting transaction's
///      calldata.
interface IClaims {
    enum Status {
        None,
        Pending,
        Finalized,
        Rejected
    }

    /// @notice A claim's state.
    /// @param claimant Who posted it; defends it in disputes and receives its bond back.
    /// @param bond The claimant's bond, in wei.
    /// @param deadline End of the challenge window (block timestamp, exclusive).
    /// @param status Lifecycle state.
    /// @param openGames Games on this claim not yet settled.
    /// @param claimHash `claimHashOf(modelId, keccak256(input), keccak256(output), traceRoot, levelSizes)`.
    struct Claim {
        address claimant;
        uint96 bond;
        uint64 deadline;
        Status status;
        uint32 openGames;
        bytes32 claimHash;
    }

    /// @notice A challenge: one game against a claim.
    /// @param challenger Who opened it (the game's challenger).
    /// @param bond The challenger's bond, in wei.
    /// @param claimId The claim it disputes.
    /// @param settled Whether its stakes were paid out.
    struct Challenge {
        address challenger;
        uint96 bond;
        uint64 claimId;
        bool settled;
    }

    /// @notice A claim was posted. `input` and `output` are in the transaction's calldata.
    event ClaimPosted(
        uint256 indexed claimId,
        address indexed claimant,
        bytes32 indexed modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint64[] levelSizes,
        uint256 bond,
        uint64 deadline
    );

    /// @notice `challenger` opened game `gameId` against claim `claimId` with `bond` wei.
    event Challenged(uint256 indexed claimId, uint256 indexed gameId, address indexed challenger, uint256 bond);

    /// @notice Game `gameId` on claim `claimId` was settled. `challengerWon`: the claim is rejected
    ///         (if it was not already) and the challenger got `paid` (its bond, plus the claimant's
    ///         bond if it is the first to settle a win); otherwise the claimant got the challenger's bond.
    event ChallengeSettled(
        uint256 indexed claimId, uint256 indexed gameId, bool challengerWon, address indexed payee, uint256 paid
    );

    /// @notice An unrefuted claim finalized after its window; its bond was credited to the claimant.
    event ClaimFinalized(uint256 indexed claimId, address indexed claimant, uint256 bond);

    /// @notice `account` withdrew `amount` wei of its credited balance.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Posts a claim with `msg.value` as its bond. Its input and output are checked against
    ///         its trace: their state roots must be the trace's first and last entries.
    /// @dev Checks, in order: bond, payload lengths, trace root, level sizes, model, then the input
    ///      (`MalformedIo("input", reason)`, `IoNotInTrace("input")`) and the output (the same with
    ///      "output"). bisection::machine::ClaimPost::check is the same check off-chain.
    /// @param modelId A model registered in `registry()`.
    /// @param input The encoding of the trace's state 0, the program's inputs (docs/SPEC.md 4.9; at
    ///        most `MAX_PAYLOAD_BYTES`).
    /// @param output The encoding of the trace's last state, the program's outputs (at most
    ///        `MAX_PAYLOAD_BYTES`).
    /// @param traceRoot `trace_root` of the execution (docs/SPEC.md 4.8), nonzero: the root of the
    ///        game's level-0 list.
    /// @param levelSizes Entries of each level's lists in a game on this claim, level 0 first
    ///        (docs/SPEC.md 7; 1 to 16 levels, each 2 to 2^48 entries).
    /// @param inputProof Siblings of entry 0 of the level-0 list, bottom up: ceil(log2(levelSizes[0]))
    ///        hashes (at most 48).
    /// @param outputProof Siblings of entry levelSizes[0] - 1, likewise.
    /// @return claimId Sequential, from 0.
    function postClaim(
        bytes32 modelId,
        bytes calldata input,
        bytes calldata output,
        bytes32 traceRoot,
        uint64[] calldata levelSizes,
        bytes32[] calldata inputProof,
        bytes32[] calldata outputProof
    ) external payable returns (uint256 claimId);

    /// @notice Opens a dispute game against a pending claim during its window, with `msg.value` as
    ///         the challenger's bond (at least `minBond`). The claim's fields are given again and must
    ///         hash to its `claimHash`.
    /// @return gameId The game's id in `game()`.
    function challenge(
        uint256 claimId,
        bytes32 modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint64[] calldata levelSizes
    ) external payable returns (uint256 gameId);

    /// @notice Pays out a finished game opened by `challenge`; anyone may call it, once per game.
    function settle(uint256 gameId) external;

    /// @notice The challenge that opened game `gameId`; reverts with `UnknownChallenge` if none did.
    function getChallenge(uint256 gameId) external view returns (Challenge memory);

    /// @notice Finalizes a pending claim whose challenge window has passed and whose games are all
    ///         settled; anyone may call it.
    function finalize(uint256 claimId) external;

    /// @notice Sends the caller its whole credited balance.
    function withdraw() external;

    /// @notice The claim `claimId`; reverts with `UnknownClaim` if there is none.
    function getClaim(uint256 claimId) external view returns (Claim memory);

    /// @notice `keccak256(abi.encode(modelId, inputHash, outputHash, traceRoot, keccak256(abi.encodePacked(levelSizes))))`
    ///         (each size a 32-byte big-endian word in the inner hash).
    function claimHashOf(
        bytes32 modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint64[] calldata levelSizes
    ) external pure returns (bytes32);

    /// @notice Number of claims posted.
    function claimCount() external view returns (uint256);

    /// @notice Wei credited to `account` and not yet withdrawn.
    function balanceOf(address account) external view returns (uint256);

    /// @notice Wei held as bonds not yet paid out: of pending claims and of unsettled challenges.
    function totalBonded() external view returns (uint256);
}
