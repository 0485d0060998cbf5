// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {InvalidModelName, ModelAlreadyRegistered, ModelNotRegistered, ZeroCommitment} from "../src/lib/Errors.sol";

contract ModelRegistryTest is Test {
    ModelRegistry internal registry;

    bytes32 internal constant WEIGHTS = keccak256("weights");
    bytes32 internal constant ARCH = keccak256("arch");
    string internal constant NAME = "all-MiniLM-L6-v2";
    address internal constant ALICE = address(0xA11CE);

    event ModelRegistered(
        bytes32 indexed modelId, address indexed registrant, bytes32 weightsRoot, bytes32 archHash, string name
    );

    function setUp() public {
        registry = new ModelRegistry();
    }

    function _register() internal returns (bytes32) {
        vm.prank(ALICE);
        return registry.register(WEIGHTS, ARCH, NAME);
    }

    // ------------------------------------------------------------ register

    function test_register_storesEverything() public {
        vm.warp(1_700_000_000);
        bytes32 id = _register();

        IModelRegistry.Model memory m = registry.getModel(id);
        assertEq(m.weightsRoot, WEIGHTS);
        assertEq(m.archHash, ARCH);
        assertEq(m.registrant, ALICE);
        assertEq(m.registeredAt, 1_700_000_000);
        assertEq(m.name, NAME);
        assertTrue(registry.isRegistered(id));
        assertEq(registry.modelCount(), 1);
        assertEq(registry.modelIdAt(0), id);
    }

    function test_register_idIsSpecModelRoot() public {
        bytes32 id = _register();
        // docs/SPEC.md 4.7: model_root = keccak256(weights_root || arch_hash), 64 bytes
        assertEq(id, keccak256(bytes.concat(WEIGHTS, ARCH)));
        assertEq(registry.modelIdOf(WEIGHTS, ARCH), id);
        assertTrue(registry.modelIdOf(ARCH, WEIGHTS) != id);
    }

    /// @dev A fixed vector: keccak256 of the 64 bytes 0x11..11 ‖ 0x22..22, so the Rust side can check
    ///      its model_root against the same number.
    function test_modelIdOf_fixedVector() public view {
        bytes32 w = 0x1111111111111111111111111111111111111111111111111111111111111111;
        bytes32 a = 0x2222222222222222222222222222222222222222222222222222222222222222;
        assertEq(registry.modelIdOf(w, a), keccak256(abi.encodePacked(w, a)));
    }

    function test_register_emitsEvent() public {
        bytes32 id = registry.modelIdOf(WEIGHTS, ARCH);
        vm.expectEmit(address(registry));
        emit ModelRegistered(id, ALICE, WEIGHTS, ARCH, NAME);
        _register();
    }

    function test_register_revertsWhenAlreadyRegistered() public {
        bytes32 id = _register();
        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, id));
        registry.register(WEIGHTS, ARCH, NAME);
    }

    function test_register_revertsWhenAlreadyRegisteredUnderAnotherName() public {
        bytes32 id = _register();
        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, id));
        registry.register(WEIGHTS, ARCH, "squatter");
        assertEq(registry.getModel(id).name, NAME);
        assertEq(registry.getModel(id).registrant, ALICE);
    }

    function test_register_differentCommitmentIsDifferentModel() public {
        bytes32 id = _register();
        bytes32 other = registry.register(WEIGHTS, keccak256("other arch"), NAME);
        assertTrue(id != other);
        assertEq(registry.modelCount(), 2);
        assertEq(registry.modelIdAt(1), other);
    }

    function test_register_revertsOnZeroWeightsRoot() public {
        vm.expectRevert(ZeroCommitment.selector);
        registry.register(bytes32(0), ARCH, NAME);
    }

    function test_register_revertsOnZeroArchHash() public {
        vm.expectRevert(ZeroCommitment.selector);
        registry.register(WEIGHTS, bytes32(0), NAME);
    }

    function test_register_revertsOnEmptyName() public {
        vm.expectRevert(abi.encodeWithSelector(InvalidModelName.selector, 0, 64));
        registry.register(WEIGHTS, ARCH, "");
    }

    function test_register_revertsOnLongName() public {
        string memory long = "0123456789012345678901234567890123456789012345678901234567890123X"; // 65 bytes
        vm.expectRevert(abi.encodeWithSelector(InvalidModelName.selector, 65, 64));
        registry.register(WEIGHTS, ARCH, long);
    }

    function test_register_acceptsNameOfMaxLength() public {
        string memory max = "0123456789012345678901234567890123456789012345678901234567890123"; // 64 bytes
        bytes32 id = registry.register(WEIGHTS, ARCH, max);
        assertEq(registry.getModel(id).name, max);
    }

    // ------------------------------------------------------------ views

    function test_getModel_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(ModelNotRegistered.selector, bytes32(uint256(1))));
        registry.getModel(bytes32(uint256(1)));
    }

    function test_isRegistered_falseWhenUnknown() public view {
        assertFalse(registry.isRegistered(keccak256("nothing")));
    }

    function test_modelIdAt_revertsOutOfRange() public {
        vm.expectRevert();
        registry.modelIdAt(0);
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_register_roundTrips(bytes32 weights, bytes32 arch, address who, uint8 nameLength) public {
        vm.assume(weights != 0 && arch != 0);
        bytes memory name = new bytes(bound(nameLength, 1, 64));
        for (uint256 i; i < name.length; ++i) {
            name[i] = bytes1(uint8(0x61 + i % 26));
        }
        vm.prank(who);
        bytes32 id = registry.register(weights, arch, string(name));
        assertEq(id, keccak256(abi.encodePacked(weights, arch)));
        IModelRegistry.Model memory m = registry.getModel(id);
        assertEq(m.weightsRoot, weights);
        assertEq(m.archHash, arch);
        assertEq(m.registrant, who);
        assertEq(m.name, string(name));

        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, id));
        registry.register(weights, arch, "again");
    }

    function testFuzz_register_neverChangesAnotherModel(bytes32 w1, bytes32 a1, bytes32 w2, bytes32 a2) public {
        vm.assume(w1 != 0 && a1 != 0 && w2 != 0 && a2 != 0);
        vm.assume(w1 != w2 || a1 != a2);
        bytes32 id1 = registry.register(w1, a1, "first");
        registry.register(w2, a2, "second");
        IModelRegistry.Model memory m = registry.getModel(id1);
        assertEq(m.weightsRoot, w1);
        assertEq(m.archHash, a1);
        assertEq(m.name, "first");
    }
}
