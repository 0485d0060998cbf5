// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

// Custom errors shared by the Refute contracts. Each names what was wrong and
// carries the offending values, so a reverted transaction explains itself.

// ---------------------------------------------------------------- ModelRegistry

/// @notice A model with this id is already registered (registration is once, and immutable).
error ModelAlreadyRegistered(bytes32 modelId);

/// @notice No model with this id is registered.
error ModelNotRegistered(bytes32 modelId);

/// @notice The weights root or the program hash is zero.
error ZeroCommitment();

/// @notice The model name is empty or longer than `maxLength` bytes.
error InvalidModelName(uint256 length, uint256 maxLength);

/// @notice A dissection parameter is out of its allowed range (see IModelRegistry.ModelParams).
error InvalidModelParams(string reason);
