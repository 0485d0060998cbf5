// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {
    InvalidModelName,
    InvalidModelParams,
    ModelAlreadyRegistered,
    ModelNotRegistered,
    ZeroCommitment
} from "../src/lib/Errors.sol";

contract ModelRegistryTest is Test {
    ModelRegistry internal registry;

    bytes32 internal constant WEIGHTS = keccak256("weights");
    bytes32 internal constant PROGRAM = keccak256("program");
    string internal constant NAME = "all-MiniLM-L6-v2";
    address internal constant ALICE = address(0xA11CE);

    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed registrant,
        bytes32 weightsRoot,
        bytes32 programHash,
        IModelRegistry.ModelParams params,
        string name
    );

    function setUp() public {
        registry = new ModelRegistry();
    }

    function _params() internal pure returns (IModelRegistry.ModelParams memory) {
        return IModelRegistry.ModelParams({
            layerCount: 6, maxOpsPerLayer: 64, maxTensorElements: 1 << 20, maxElementSteps: 1544, leafBytes: 256
        });
    }

    function _register() internal returns (bytes32) {
        vm.prank(ALICE);
        return registry.register(WEIGHTS, PROGRAM, _params(), NAME);
    }

    // ------------------------------------------------------------ register

    function test_register_storesEverything() public {
        vm.warp(1_700_000_000);
        bytes32 id = _register();

        IModelRegistry.Model memory m = registry.getModel(id);
        assertEq(m.weightsRoot, WEIGHTS);
        assertEq(m.programHash, PROGRAM);
        assertEq(m.params.layerCount, 6);
        assertEq(m.params.maxOpsPerLayer, 64);
        assertEq(m.params.maxTensorElements, 1 << 20);
        assertEq(m.params.maxElementSteps, 1544);
        assertEq(m.params.leafBytes, 256);
        assertEq(m.registrant, ALICE);
        assertEq(m.registeredAt, 1_700_000_000);
        assertEq(m.name, NAME);
        assertTrue(registry.isRegistered(id));
        assertEq(registry.modelCount(), 1);
        assertEq(registry.modelIdAt(0), id);
    }

    function test_register_idIsDocumentedHash() public {
        bytes32 id = _register();
        IModelRegistry.ModelParams memory p = _params();
        bytes32 expected = keccak256(
            abi.encode(
                WEIGHTS,
                PROGRAM,
                uint256(p.layerCount),
                uint256(p.maxOpsPerLayer),
                uint256(p.maxTensorElements),
                uint256(p.maxElementSteps),
                uint256(p.leafBytes),
                keccak256(bytes(NAME))
            )
        );
        assertEq(id, expected);
        assertEq(registry.modelIdOf(WEIGHTS, PROGRAM, p, NAME), expected);
    }

    function test_register_emitsEvent() public {
        bytes32 id = registry.modelIdOf(WEIGHTS, PROGRAM, _params(), NAME);
        vm.expectEmit(address(registry));
        emit ModelRegistered(id, ALICE, WEIGHTS, PROGRAM, _params(), NAME);
        _register();
    }

    function test_register_revertsWhenAlreadyRegistered() public {
        bytes32 id = _register();
        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, id));
        registry.register(WEIGHTS, PROGRAM, _params(), NAME);
    }

    function test_register_differentFieldIsDifferentModel() public {
        bytes32 id = _register();
        IModelRegistry.ModelParams memory p = _params();
        p.leafBytes = 512;
        bytes32 other = registry.register(WEIGHTS, PROGRAM, p, NAME);
        bytes32 renamed = registry.register(WEIGHTS, PROGRAM, _params(), "squatter");
        assertTrue(id != other && id != renamed && other != renamed);
        assertEq(registry.getModel(id).params.leafBytes, 256); // the first is untouched
        assertEq(registry.modelCount(), 3);
    }

    function test_register_revertsOnZeroWeightsRoot() public {
        vm.expectRevert(ZeroCommitment.selector);
        registry.register(bytes32(0), PROGRAM, _params(), NAME);
    }

    function test_register_revertsOnZeroProgramHash() public {
        vm.expectRevert(ZeroCommitment.selector);
        registry.register(WEIGHTS, bytes32(0), _params(), NAME);
    }

    function test_register_revertsOnEmptyName() public {
        vm.expectRevert(abi.encodeWithSelector(InvalidModelName.selector, 0, 64));
        registry.register(WEIGHTS, PROGRAM, _params(), "");
    }

    function test_register_revertsOnLongName() public {
        string memory long = "0123456789012345678901234567890123456789012345678901234567890123X"; // 65 bytes
        vm.expectRevert(abi.encodeWithSelector(InvalidModelName.selector, 65, 64));
        registry.register(WEIGHTS, PROGRAM, _params(), long);
    }

    function test_register_acceptsNameOfMaxLength() public {
        string memory max = "0123456789012345678901234567890123456789012345678901234567890123"; // 64 bytes
        bytes32 id = registry.register(WEIGHTS, PROGRAM, _params(), max);
        assertEq(registry.getModel(id).name, max);
    }

    function test_register_revertsOnZeroLayerCount() public {
        IModelRegistry.ModelParams memory p = _params();
        p.layerCount = 0;
        vm.expectRevert(abi.encodeWithSelector(InvalidModelParams.selector, "layerCount is zero"));
        registry.register(WEIGHTS, PROGRAM, p, NAME);
    }

    function test_register_revertsOnZeroBounds() public {
        IModelRegistry.ModelParams memory p = _params();
        p.maxOpsPerLayer = 0;
        vm.expectRevert(abi.encodeWithSelector(InvalidModelParams.selector, "maxOpsPerLayer is zero"));
        registry.register(WEIGHTS, PROGRAM, p, NAME);
        p = _params();
        p.maxTensorElements = 0;
        vm.expectRevert(abi.encodeWithSelector(InvalidModelParams.selector, "maxTensorElements is zero"));
        registry.register(WEIGHTS, PROGRAM, p, NAME);
        p = _params();
        p.maxElementSteps = 0;
        vm.expectRevert(abi.encodeWithSelector(InvalidModelParams.selector, "maxElementSteps is zero"));
        registry.register(WEIGHTS, PROGRAM, p, NAME);
    }

    function test_register_revertsOnBadLeafBytes() public {
        uint32[4] memory bad = [uint32(0), 31, 48 + 1, 8192 + 32];
        for (uint256 i; i < bad.length; ++i) {
            IModelRegistry.ModelParams memory p = _params();
            p.leafBytes = bad[i];
            vm.expectRevert(
                abi.encodeWithSelector(InvalidModelParams.selector, "leafBytes is not a multiple of 32 in 32..8192")
            );
            registry.register(WEIGHTS, PROGRAM, p, NAME);
        }
    }

    function test_register_gas() public {
        uint256 before = gasleft();
        _register();
        uint256 used = before - gasleft();
        assertLe(used, 200_000, "register gas");
    }

    // ------------------------------------------------------------ views

    function test_getModel_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(ModelNotRegistered.selector, bytes32(uint256(1))));
        registry.getModel(bytes32(uint256(1)));
    }

    function test_paramsOf_returnsParams() public {
        bytes32 id = _register();
        assertEq(registry.paramsOf(id).maxElementSteps, 1544);
    }

    function test_paramsOf_revertsWhenUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(ModelNotRegistered.selector, bytes32(0)));
        registry.paramsOf(bytes32(0));
    }

    function test_isRegistered_falseWhenUnknown() public view {
        assertFalse(registry.isRegistered(keccak256("nothing")));
    }

    function test_modelIdAt_revertsOutOfRange() public {
        vm.expectRevert();
        registry.modelIdAt(0);
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_register_roundTrips(
        bytes32 weights,
        bytes32 program,
        uint32 layers,
        uint32 ops,
        uint32 elems,
        uint32 steps,
        uint8 leafWords,
        address who
    ) public {
        vm.assume(weights != 0 && program != 0);
        IModelRegistry.ModelParams memory p = IModelRegistry.ModelParams({
            layerCount: uint32(bound(layers, 1, type(uint32).max)),
            maxOpsPerLayer: uint32(bound(ops, 1, type(uint32).max)),
            maxTensorElements: uint32(bound(elems, 1, type(uint32).max)),
            maxElementSteps: uint32(bound(steps, 1, type(uint32).max)),
            leafBytes: uint32(bound(leafWords, 1, 256)) * 32
        });
        vm.prank(who);
        bytes32 id = registry.register(weights, program, p, NAME);
        assertEq(id, registry.modelIdOf(weights, program, p, NAME));
        IModelRegistry.Model memory m = registry.getModel(id);
        assertEq(m.weightsRoot, weights);
        assertEq(m.programHash, program);
        assertEq(keccak256(abi.encode(m.params)), keccak256(abi.encode(p)));
        assertEq(m.registrant, who);

        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, id));
        registry.register(weights, program, p, NAME);
    }

    function testFuzz_register_rejectsUnalignedLeaf(uint32 leafBytes) public {
        vm.assume(leafBytes % 32 != 0 || leafBytes == 0 || leafBytes > 8192);
        IModelRegistry.ModelParams memory p = _params();
        p.leafBytes = leafBytes;
        vm.expectRevert(
            abi.encodeWithSelector(InvalidModelParams.selector, "leafBytes is not a multiple of 32 in 32..8192")
        );
        registry.register(WEIGHTS, PROGRAM, p, NAME);
    }
}
