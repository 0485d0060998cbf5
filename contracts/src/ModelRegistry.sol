// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {
    InvalidModelName,
    InvalidModelParams,
    ModelAlreadyRegistered,
    ModelNotRegistered,
    ZeroCommitment
} from "./lib/Errors.sol";

/// @title ModelRegistry
/// @notice Permissionless, append-only registry of models. No owner, no upgrade, no way to change or
///         remove a model once registered.
contract ModelRegistry is IModelRegistry {
    /// @notice Longest model name, in bytes.
    uint256 public constant MAX_NAME_LENGTH = 64;
    /// @notice Largest tensor leaf, in bytes.
    uint256 public constant MAX_LEAF_BYTES = 8192;

    mapping(bytes32 modelId => Model) private _models;
    bytes32[] private _ids;

    /// @inheritdoc IModelRegistry
    function register(bytes32 weightsRoot, bytes32 programHash, ModelParams calldata params, string calldata name)
        external
        returns (bytes32 modelId)
    {
        if (weightsRoot == bytes32(0) || programHash == bytes32(0)) revert ZeroCommitment();
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_LENGTH) revert InvalidModelName(nameLength, MAX_NAME_LENGTH);
        _checkParams(params);

        modelId = _modelId(weightsRoot, programHash, params, name);
        Model storage model = _models[modelId];
        if (model.weightsRoot != bytes32(0)) revert ModelAlreadyRegistered(modelId);

        model.weightsRoot = weightsRoot;
        model.programHash = programHash;
        model.params = params;
        model.registrant = msg.sender;
        model.registeredAt = uint64(block.timestamp);
        model.name = name;
        _ids.push(modelId);

        emit ModelRegistered(modelId, msg.sender, weightsRoot, programHash, params, name);
    }

    /// @inheritdoc IModelRegistry
    function modelIdOf(bytes32 weightsRoot, bytes32 programHash, ModelParams calldata params, string calldata name)
        external
        pure
        returns (bytes32)
    {
        return _modelId(weightsRoot, programHash, params, name);
    }

    /// @inheritdoc IModelRegistry
    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].weightsRoot != bytes32(0);
    }

    /// @inheritdoc IModelRegistry
    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _get(modelId);
    }

    /// @inheritdoc IModelRegistry
    function paramsOf(bytes32 modelId) external view returns (ModelParams memory) {
        return _get(modelId).params;
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _ids.length;
    }

    /// @inheritdoc IModelRegistry
    function modelIdAt(uint256 index) external view returns (bytes32) {
        return _ids[index];
    }

    function _get(bytes32 modelId) private view returns (Model storage model) {
        model = _models[modelId];
        if (model.weightsRoot == bytes32(0)) revert ModelNotRegistered(modelId);
    }

    function _modelId(bytes32 weightsRoot, bytes32 programHash, ModelParams calldata params, string calldata name)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(weightsRoot, programHash, params, keccak256(bytes(name))));
    }

    function _checkParams(ModelParams calldata p) private pure {
        if (p.layerCount == 0) revert InvalidModelParams("layerCount is zero");
        if (p.maxOpsPerLayer == 0) revert InvalidModelParams("maxOpsPerLayer is zero");
        if (p.maxTensorElements == 0) revert InvalidModelParams("maxTensorElements is zero");
        if (p.maxElementSteps == 0) revert InvalidModelParams("maxElementSteps is zero");
        if (p.leafBytes == 0 || p.leafBytes % 32 != 0 || p.leafBytes > MAX_LEAF_BYTES) {
            revert InvalidModelParams("leafBytes is not a multiple of 32 in 32..8192");
        }
    }
}
