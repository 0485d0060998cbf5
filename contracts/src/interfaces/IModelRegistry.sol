// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IModelRegistry
/// @notice Permissionless, append-only registry of the models that claims refer to.
/// @dev A model is registered once and never changes. Its id commits to every registered field
///      (see `modelIdOf`), so nobody can take a model's id with different parameters or a misleading
///      name: a different field is simply a different model.
interface IModelRegistry {
    /// @notice The numbers the dissection game needs to know about a model, fixed at registration.
    /// @param layerCount Layers per forward pass: a forward pass has `layerCount + 1` boundary states.
    /// @param maxOpsPerLayer Upper bound on the number of ops in one layer's sub-program (bounds the op level).
    /// @param maxTensorElements Upper bound on the element count of any tensor the program produces
    ///        (bounds the element level).
    /// @param maxElementSteps Upper bound on the primitive steps that compute one output element
    ///        (bounds the micro-step level).
    /// @param leafBytes Size in bytes of one leaf of a tensor commitment: a multiple of 32, at most 8192.
    struct ModelParams {
        uint32 layerCount;
        uint32 maxOpsPerLayer;
        uint32 maxTensorElements;
        uint32 maxElementSteps;
        uint32 leafBytes;
    }

    /// @notice A registered model.
    /// @param weightsRoot Merkle root over the model's weight tensors (docs/SPEC.md).
    /// @param programHash Hash of the model's architecture (its op program) (docs/SPEC.md).
    /// @param params Dissection parameters.
    /// @param registrant Who registered it (informational only: it grants no rights).
    /// @param registeredAt Block timestamp of the registration.
    /// @param name Human-readable name, 1..64 bytes.
    struct Model {
        bytes32 weightsRoot;
        bytes32 programHash;
        ModelParams params;
        address registrant;
        uint64 registeredAt;
        string name;
    }

    /// @notice Emitted once per model, when it is registered.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed registrant,
        bytes32 weightsRoot,
        bytes32 programHash,
        ModelParams params,
        string name
    );

    /// @notice Registers a model. Anyone may call it; each model id only once.
    /// @return modelId `modelIdOf(weightsRoot, programHash, params, name)`.
    function register(bytes32 weightsRoot, bytes32 programHash, ModelParams calldata params, string calldata name)
        external
        returns (bytes32 modelId);

    /// @notice The id a model with these fields has (whether or not it is registered):
    ///         `keccak256(abi.encode(weightsRoot, programHash, params, keccak256(bytes(name))))`,
    ///         with `params` ABI-encoded as five uint32 words in declaration order.
    function modelIdOf(bytes32 weightsRoot, bytes32 programHash, ModelParams calldata params, string calldata name)
        external
        pure
        returns (bytes32);

    /// @notice Whether `modelId` is registered.
    function isRegistered(bytes32 modelId) external view returns (bool);

    /// @notice The registered model `modelId`; reverts with `ModelNotRegistered` if there is none.
    function getModel(bytes32 modelId) external view returns (Model memory);

    /// @notice The dissection parameters of `modelId`; reverts with `ModelNotRegistered` if there is none.
    function paramsOf(bytes32 modelId) external view returns (ModelParams memory);

    /// @notice Number of registered models.
    function modelCount() external view returns (uint256);

    /// @notice The id of the `index`-th registered model (registration order), for enumeration.
    function modelIdAt(uint256 index) external view returns (bytes32);
}
