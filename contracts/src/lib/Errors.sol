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
