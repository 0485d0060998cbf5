// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

// Custom errors shared by the Refute contracts. Each names what was wrong and
// carries the offending values, so a reverted transaction explains itself.

// ---------------------------------------------------------------- ModelRegistry

/// @notice A model with this id is already registered (registration is once, and immutable).
error ModelAlreadyRegistered(bytes32 modelId);

/// @notice No model with this id is registered.
error ModelNotRegistered(bytes32 modelId);

/// @notice The weights root or the architecture hash is zero.
error ZeroCommitment();

/// @notice The model name is empty or longer than `maxLength` bytes.
error InvalidModelName(uint256 length, uint256 maxLength);

// ---------------------------------------------------------------- Claims

/// @notice The bond sent with a claim is below the deployment's minimum.
error BondTooLow(uint256 sent, uint256 minimum);

/// @notice The bond sent with a claim does not fit the bond field (2^96 - 1 wei).
error BondTooHigh(uint256 sent);

/// @notice The claim's input or output is longer than the deployment allows.
error PayloadTooLarge(uint256 length, uint256 maxLength);

/// @notice The trace root is zero.
error ZeroTraceRoot();

/// @notice No claim has this id.
error UnknownClaim(uint256 claimId);

/// @notice The claim is not pending (it was finalized or refuted already).
error ClaimNotPending(uint256 claimId);

/// @notice The claim's challenge window is still open until `deadline`.
error ChallengeWindowOpen(uint256 claimId, uint256 deadline);

/// @notice The caller has no balance to withdraw.
error NothingToWithdraw();

/// @notice Sending `amount` wei to `account` failed; the balance stays credited.
error WithdrawalFailed(address account, uint256 amount);

/// @notice A deployment parameter is out of range.
error InvalidConfig(string reason);

/// @notice The claim still has an open dispute game; it cannot finalize until every game is settled.
error GamesOpen(uint256 claimId, uint256 openGames);

/// @notice The challenge window of the claim closed at `deadline`.
error ChallengeWindowClosed(uint256 claimId, uint256 deadline);

/// @notice The claim fields or level sizes given do not hash to the claim's commitment.
error ClaimMismatch(uint256 claimId);

/// @notice The level sizes are out of range (1 to `maxLevels` levels, each list 2 to 2^48 entries).
error InvalidLevelSizes();

/// @notice The claim's input or output (`which`) is not a canonical state encoding (docs/SPEC.md
///         4.9): `reason` says what is wrong, in the words of bisection::machine::Malformed.
error MalformedIo(string which, string reason);

/// @notice The state root of the claim's input (`which` = "input") or output ("output") is not entry
///         0 or entry N - 1 of its trace, N = levelSizes[0], with the proof given (of the level-0 tree's
///         depth).
error IoNotInTrace(string which);

/// @notice This game was not opened by this contract, or it was settled already.
error UnknownChallenge(uint256 gameId);

/// @notice The game has no winner yet.
error GameNotOver(uint256 gameId);

// ---------------------------------------------------------------- DisputeGame

/// @notice No game has this id.
error UnknownGame(uint256 gameId);

/// @notice The game is over.
error GameOver(uint256 gameId);

/// @notice The move is not the one the game waits for (`phase`: 1 reveal, 2 pick, 3 step).
error WrongAction(uint256 gameId, uint8 phase);

/// @notice The caller is not the side to move.
error NotYourTurn(uint256 gameId, address caller);

/// @notice The mover's clock ran out before it moved.
error ClockExpired(uint256 gameId, address mover);

/// @notice A timeout was called while the side to move still had `left` seconds.
error NotExpired(uint256 gameId, uint256 left);

/// @notice A reveal with the wrong number of children.
error ChildCount(uint256 expected, uint256 got);

/// @notice The revealed children do not hash to the disputed node.
error ChildrenMismatch();

/// @notice A pick outside the revealed children, or of a subtree holding only padding.
error BadPick(uint256 child);

/// @notice A pick of the first entry of a list, agreed when the list was committed.
error AgreedEntry();

/// @notice A Merkle proof that does not verify (`which`: what it should have proven).
error BadProof(string which);

/// @notice A one-step check ran out of gas: no verdict; send the step again with more gas.
error StepOutOfGas();
