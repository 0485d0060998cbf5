// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IModelRegistry
/// @notice Permissionless, append-only registry of the models that claims refer to.
/// @dev A model's id is its commitment, docs/SPEC.md 4.7:
///      `modelId = model_root = keccak256(weightsRoot ‖ archHash)`, so anyone can compute it off-chain and
///      nobody can register different commitments under it. Registration is once per id and immutable.
///      The game reads everything else it needs from the commitments themselves (list lengths, tensor
///      shapes, the program), so a model carries no parameters that a first registrant could choose
///      badly. The name is informational only: it is what the first registrant wrote.
interface IModelRegistry {
    /// @notice A registered model.
    /// @param weightsRoot `list_root` of the weight tensors' `tensor_root`s (docs/SPEC.md 4.7).
    /// @param archHash Commitment to the model's program (docs/SPEC.md 4.6).
    /// @param registrant Who registered it (informational: it grants no rights).
    /// @param registeredAt Block timestamp of the registration.
    /// @param name Human-readable name, 1..64 bytes, as the registrant wrote it.
    struct Model {
        bytes32 weightsRoot;
        bytes32 archHash;
        address registrant;
        uint64 registeredAt;
        string name;
    }

    /// @notice Emitted once per model, when it is registered.
    event ModelRegistered(
        bytes32 indexed modelId, address indexed registrant, bytes32 weightsRoot, bytes32 archHash, string name
    );

    /// @notice Registers a model. Anyone may call it; each model only once.
    /// @return modelId `keccak256(abi.encodePacked(weightsRoot, archHash))`.
    function register(bytes32 weightsRoot, bytes32 archHash, string calldata name) external returns (bytes32 modelId);

    /// @notice The id of the model with these commitments, registered or not.
    function modelIdOf(bytes32 weightsRoot, bytes32 archHash) external pure returns (bytes32);

    /// @notice Whether `modelId` is registered.
    function isRegistered(bytes32 modelId) external view returns (bool);

    /// @notice The registered model `modelId`; reverts with `ModelNotRegistered` if there is none.
    function getModel(bytes32 modelId) external view returns (Model memory);

    /// @notice Number of registered models.
    function modelCount() external view returns (uint256);

    /// @notice The id of the `index`-th registered model (registration order), for enumeration.
    function modelIdAt(uint256 index) external view returns (bytes32);
}
