// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {InvalidModelName, ModelAlreadyRegistered, ModelNotRegistered, ZeroCommitment} from "./lib/Errors.sol";

/// @title ModelRegistry
/// @notice Permissionless, append-only registry of models. No owner, no upgrade, no way to change or
///         remove a model once registered.
contract ModelRegistry is IModelRegistry {
    /// @notice Longest model name, in bytes.
    uint256 public constant MAX_NAME_LENGTH = 64;

    mapping(bytes32 modelId => Model) private _models;
    bytes32[] private _ids;

    /// @inheritdoc IModelRegistry
    function register(bytes32 weightsRoot, bytes32 archHash, string calldata name) external returns (bytes32 modelId) {
        if (weightsRoot == bytes32(0) || archHash == bytes32(0)) revert ZeroCommitment();
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_LENGTH) revert InvalidModelName(nameLength, MAX_NAME_LENGTH);

        modelId = _modelId(weightsRoot, archHash);
        Model storage model = _models[modelId];
        if (model.weightsRoot != bytes32(0)) revert ModelAlreadyRegistered(modelId);

        model.weightsRoot = weightsRoot;
        model.archHash = archHash;
        model.registrant = msg.sender;
        model.registeredAt = uint64(block.timestamp);
        model.name = name;
        _ids.push(modelId);

        emit ModelRegistered(modelId, msg.sender, weightsRoot, archHash, name);
    }

    /// @inheritdoc IModelRegistry
    function modelIdOf(bytes32 weightsRoot, bytes32 archHash) external pure returns (bytes32) {
        return _modelId(weightsRoot, archHash);
    }

    /// @inheritdoc IModelRegistry
    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].weightsRoot != bytes32(0);
    }

    /// @inheritdoc IModelRegistry
    function getModel(bytes32 modelId) external view returns (Model memory model) {
        model = _models[modelId];
        if (model.weightsRoot == bytes32(0)) revert ModelNotRegistered(modelId);
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _ids.length;
    }

    /// @inheritdoc IModelRegistry
    function modelIdAt(uint256 index) external view returns (bytes32) {
        return _ids[index];
    }

    /// @dev docs/SPEC.md 4.7: model_root = keccak256(weights_root ‖ arch_hash).
    function _modelId(bytes32 weightsRoot, bytes32 archHash) private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(0x00, weightsRoot)
            mstore(0x20, archHash)
            id := keccak256(0x00, 0x40)
        }
    }
}
