// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Merkle} from "../../src/lib/Merkle.sol";
import {IDisputeGame} from "../../src/interfaces/IDisputeGame.sol";
import {ToyStepVerifier, toyIo, toyLeaf} from "./ToyStepVerifier.sol";

/// @notice Padded Merkle trees over leaf lists (SPEC 4.1), computed naively for tests.
library ToyTree {
    /// @notice Node (`depth`, `index`) of the padded tree of depth `d` over `leaves`.
    function nodeAt(bytes32[] memory leaves, uint256 d, uint256 depth, uint256 index) internal pure returns (bytes32) {
        if (depth == d) return index < leaves.length ? leaves[index] : bytes32(0);
        return Merkle.hashPair(nodeAt(leaves, d, depth + 1, 2 * index), nodeAt(leaves, d, depth + 1, 2 * index + 1));
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        return nodeAt(leaves, Merkle.depthFor(leaves.length), 0, 0);
    }

    /// @notice Siblings of leaf `i`, bottom up.
    function proof(bytes32[] memory leaves, uint256 i) internal pure returns (bytes32[] memory p) {
        uint256 d = Merkle.depthFor(leaves.length);
        p = new bytes32[](d);
        for (uint256 k; k < d; ++k) {
            p[k] = nodeAt(leaves, d, d - k, (i >> k) ^ 1);
        }
    }

    /// @notice The 2^k descendants of node (`depth`, `index`).
    function descendants(bytes32[] memory leaves, uint256 depth, uint256 index, uint256 k)
        internal
        pure
        returns (bytes32[] memory c)
    {
        uint256 d = Merkle.depthFor(leaves.length);
        c = new bytes32[](1 << k);
        for (uint256 j; j < c.length; ++j) {
            c[j] = nodeAt(leaves, d, depth + k, (index << k) + j);
        }
    }

    /// @notice Proof of `children[c]` against the root of `children` (a power-of-two list).
    function pickProof(bytes32[] memory children, uint256 c) internal pure returns (bytes32[] memory) {
        return proof(children, c);
    }
}

/// @notice One party's run of the toy VM (bisection/src/game/toy.rs `ToyTrace`): honest, or with
///         the primitive at `faultPath` corrupted by XOR with `faultMask`; and its honest moves.
contract ToyTrace {
    ToyStepVerifier public immutable toy;
    uint64 public immutable input;
    uint64 public immutable faultMask;
    uint64[] internal _sizes;
    uint64[] internal _faultPath;

    constructor(ToyStepVerifier toy_, uint64[] memory sizes_, uint64 input_, uint64[] memory faultPath_, uint64 mask_) {
        toy = toy_;
        _sizes = sizes_;
        input = input_;
        _faultPath = faultPath_;
        faultMask = mask_;
    }

    function sizes() external view returns (uint64[] memory) {
        return _sizes;
    }

    function _isFault(uint64[] memory path) internal view returns (bool) {
        if (faultMask == 0 || path.length != _faultPath.length) return false;
        for (uint256 i; i < path.length; ++i) {
            if (path[i] != _faultPath[i]) return false;
        }
        return true;
    }

    /// @notice The first `n` indices of `path`.
    function _prefix(uint64[] memory path, uint256 n) internal pure returns (uint64[] memory p) {
        p = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            p[i] = path[i];
        }
    }

    /// @dev Runs step `path[0:len]` from `state`; `firsts[0:len]` hold the first entry of each list
    ///      down to the step's own (`ToyTrace::run_step`).
    function _runStep(uint64[] memory path, uint64[] memory firsts, uint256 len, uint64 state)
        internal
        view
        returns (uint64)
    {
        if (len == _sizes.length) {
            uint64[] memory p = _prefix(path, len);
            uint64 r = toy.primitive(p, _prefix(firsts, len), state);
            return _isFault(p) ? r ^ faultMask : r;
        }
        firsts[len] = state;
        for (uint64 j = 1; j < _sizes[len]; ++j) {
            path[len] = j;
            state = _runStep(path, firsts, len + 1, state);
        }
        return state;
    }

    /// @dev The entries of the list at `path`, and in `firsts[0..path.length]` the first entry of each
    ///      list from level 0 down to it (`ToyTrace::run_list`).
    function _run(uint64[] memory path) internal view returns (uint64[] memory entries, uint64[] memory firsts) {
        uint256 level = path.length;
        uint64 pre = input;
        if (level > 0) {
            uint64[] memory up;
            (up, firsts) = _run(_prefix(path, level - 1));
            pre = up[path[level - 1] - 1];
        } else {
            firsts = new uint64[](_sizes.length);
        }
        firsts[level] = pre;
        entries = new uint64[](_sizes[level]);
        entries[0] = pre;
        uint64[] memory prefix = new uint64[](_sizes.length);
        for (uint256 i; i < level; ++i) {
            prefix[i] = path[i];
        }
        for (uint64 j = 1; j < _sizes[level]; ++j) {
            prefix[level] = j;
            entries[j] = _runStep(prefix, firsts, level + 1, entries[j - 1]);
        }
    }

    /// @notice All entries of the list at `path`.
    function list(uint64[] memory path) public view returns (uint64[] memory entries) {
        (entries,) = _run(path);
    }

    function leaves(uint64[] memory path) public view returns (bytes32[] memory l) {
        uint64[] memory e = list(path);
        l = new bytes32[](e.length);
        for (uint256 i; i < e.length; ++i) {
            l[i] = toyLeaf(e[i]);
        }
    }

    function root(uint64[] memory path) external view returns (bytes32) {
        return ToyTree.root(leaves(path));
    }

    // ------------------------------------------------------------ honest moves (strategy.rs `Honest`)

    function revealChildren(IDisputeGame.GameView memory g, uint256 arityLog2)
        external
        view
        returns (bytes32[] memory)
    {
        bytes32[] memory l = leaves(g.path);
        uint256 left = Merkle.depthFor(l.length) - g.depth;
        uint256 k = arityLog2 < left ? arityLog2 : left;
        return ToyTree.descendants(l, g.depth, g.index, k);
    }

    /// @notice The first revealed child (holding real entries) that differs from this trace's tree.
    function honestPick(IDisputeGame.GameView memory g, bytes32[] memory children)
        external
        view
        returns (bool found, uint256 child)
    {
        bytes32[] memory l = leaves(g.path);
        uint256 d = Merkle.depthFor(l.length);
        uint256 k = Merkle.depthFor(children.length);
        uint256 below = d - g.depth - k;
        for (uint256 c; c < children.length; ++c) {
            uint256 pos = (uint256(g.index) << k) + c;
            if (pos << below < l.length && ToyTree.nodeAt(l, d, g.depth + k, pos) != children[c]) return (true, c);
        }
    }

    /// @notice What a claim over this trace posts (IClaims.postClaim): its first and last states
    ///         encoded (`toyIo`), the level-0 root, the level sizes and the proofs of entries 0 and N - 1.
    struct ClaimArgs {
        bytes input;
        bytes output;
        bytes32 traceRoot;
        uint64[] sizes;
        bytes32[] inputProof;
        bytes32[] outputProof;
    }

    function claimArgs() external view returns (ClaimArgs memory a) {
        uint64[] memory e = list(new uint64[](0));
        bytes32[] memory l = leaves(new uint64[](0));
        a.input = toyIo(e[0]);
        a.output = toyIo(e[e.length - 1]);
        a.traceRoot = ToyTree.root(l);
        a.sizes = _sizes;
        a.inputProof = ToyTree.proof(l, 0);
        a.outputProof = ToyTree.proof(l, l.length - 1);
    }

    /// @notice The arguments of an honest `expand` (IDisputeGame.expand).
    struct Expansion {
        bytes32 pre;
        bytes32[] preProof;
        bytes32 subRoot;
        bytes32[] first;
        bytes32[] last;
        bytes32[] children;
    }

    /// @notice The honest expansion of the disputed step, with the new list's first reveal.
    function expandArgs(IDisputeGame.GameView memory g, uint8 arityLog2) external view returns (Expansion memory x) {
        bytes32[] memory l = leaves(g.path);
        x.pre = l[g.index - 1];
        x.preProof = ToyTree.proof(l, g.index - 1);
        uint64[] memory sub = new uint64[](g.path.length + 1);
        for (uint256 i; i < g.path.length; ++i) {
            sub[i] = g.path[i];
        }
        sub[g.path.length] = g.index;
        bytes32[] memory s = leaves(sub);
        x.subRoot = ToyTree.root(s);
        x.first = ToyTree.proof(s, 0);
        x.last = ToyTree.proof(s, s.length - 1);
        uint256 d = Merkle.depthFor(s.length);
        x.children = ToyTree.descendants(s, 0, 0, arityLog2 < d ? arityLog2 : d);
    }

    /// @notice The one-step's states: `pre` with the first entry of each list on the path proven
    ///         against its root (`ToyState::operands`), `post` its value alone.
    function stepArgs(IDisputeGame.GameView memory g)
        external
        view
        returns (bytes memory pre, bytes memory post, bytes32[] memory preProof)
    {
        uint64[] memory e = list(g.path);
        pre = abi.encodePacked(e[g.index - 1]);
        for (uint256 k; k <= g.path.length; ++k) {
            uint64[] memory prefix = _prefix(g.path, k);
            bytes32[] memory proof = ToyTree.proof(leaves(prefix), 0);
            pre = bytes.concat(pre, abi.encodePacked(list(prefix)[0], uint8(proof.length), proof));
        }
        post = abi.encodePacked(e[g.index]);
        preProof = ToyTree.proof(leaves(g.path), g.index - 1);
    }
}
