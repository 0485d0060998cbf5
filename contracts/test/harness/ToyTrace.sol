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
///         the primitive at `faultPath` corrupted by XOR with `faultMask`; and its honest moves. A
///         liar may also forge entries (`forge`): a forged entry is XORed into the list it commits to
///         only, while its other lists are computed from its unforged entries, so a forgery makes a
///         list and its neighbours disagree (an expansion whose first or last entry is not the parent's
///         entry) where a primitive fault keeps every list consistent.
contract ToyTrace {
    ToyStepVerifier public immutable toy;
    uint64 public immutable input;
    uint64 public immutable faultMask;
    uint64[] internal _sizes;
    uint64[] internal _faultPath;

    /// @dev Entry `index` of the list at `path` is committed XORed with `mask`.
    struct Forgery {
        uint64[] path;
        uint64 index;
        uint64 mask;
    }

    Forgery[] internal _forgeries;

    constructor(ToyStepVerifier toy_, uint64[] memory sizes_, uint64 input_, uint64[] memory faultPath_, uint64 mask_) {
        toy = toy_;
        _sizes = sizes_;
        input = input_;
        _faultPath = faultPath_;
        faultMask = mask_;
    }

    /// @notice Commits entry `index` of the list at `path` XORed with `mask` (in that list only).
    function forge(uint64[] memory path, uint64 index, uint64 mask) external {
        require(path.length < _sizes.length && index < _sizes[path.length] && mask != 0, "ToyTrace: bad forgery");
        _forgeries.push(Forgery(path, index, mask));
    }

    function sizes() external view returns (uint64[] memory) {
        return _sizes;
    }

    function _same(uint64[] memory a, uint64[] memory b) internal pure returns (bool) {
        if (a.length != b.length) return false;
        for (uint256 i; i < a.length; ++i) {
            if (a[i] != b[i]) return false;
        }
        return true;
    }

    function _isFault(uint64[] memory path) internal view returns (bool) {
        return faultMask != 0 && _same(path, _faultPath);
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

    /// @dev The entries of the list at `path` (forgeries left out), and in `firsts[0..path.length]`
    ///      the first entry of each list from level 0 down to it (`ToyTrace::run_list`).
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

    /// @notice All entries of the list at `path`, as this trace commits to them (forgeries in).
    function list(uint64[] memory path) public view returns (uint64[] memory entries) {
        (entries,) = _run(path);
        for (uint256 f; f < _forgeries.length; ++f) {
            Forgery storage x = _forgeries[f];
            if (_same(x.path, path)) entries[x.index] ^= x.mask;
        }
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

    /// @notice The first revealed child (holding real entries, level 0's agreed entry 0 aside) that
    ///         differs from this trace's tree; below level 0, when none differs, the child holding the
    ///         list's last entry (the defender's sub-list then agrees with this trace but ends in
    ///         another entry than the parent's disputed one, which the defender cannot prove).
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
            if (pos << below >= l.length || (g.level == 0 && below == 0 && pos == 0)) continue;
            if (ToyTree.nodeAt(l, d, g.depth + k, pos) != children[c]) return (true, c);
        }
        uint256 last = (l.length - 1) >> below;
        if (g.level > 0 && last >> k == g.index) return (true, last & ((1 << k) - 1));
    }

    /// @notice Whether this trace's lists back its answer at the disputed step: below level 0, entry
    ///         0 must be the parent's entry `path - 1` (`bind`) and the last entry the parent's entry
    ///         `path` (the end proof of `expand` and `step`). An honest trace always can; a forger
    ///         cannot where a forgery split a list from its parent.
    function canDefend(IDisputeGame.GameView memory g) external view returns (bool) {
        uint256 level = g.path.length;
        if (level == 0) return true;
        uint64 parentIndex = g.path[level - 1];
        if (g.index == 0) parentIndex -= 1;
        else if (g.index != _sizes[level] - 1) return true;
        return list(g.path)[g.index] == list(_prefix(g.path, level - 1))[parentIndex];
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
        bytes32 subRoot;
        bytes32[] children;
        bytes32[] endProof;
    }

    /// @notice The honest expansion of the disputed step, with the new list's first reveal.
    function expandArgs(IDisputeGame.GameView memory g, uint8 arityLog2) external view returns (Expansion memory x) {
        uint64[] memory sub = new uint64[](g.path.length + 1);
        for (uint256 i; i < g.path.length; ++i) {
            sub[i] = g.path[i];
        }
        sub[g.path.length] = g.index;
        bytes32[] memory s = leaves(sub);
        x.subRoot = ToyTree.root(s);
        uint256 d = Merkle.depthFor(s.length);
        x.children = ToyTree.descendants(s, 0, 0, arityLog2 < d ? arityLog2 : d);
        x.endProof = endProof(g);
    }

    /// @notice The end proof of `expand` and `step` at the disputed step: below level 0, when it is
    ///         its list's last entry, the proof of the parent's entry `path[level - 1]` in the parent's
    ///         tree; empty otherwise.
    function endProof(IDisputeGame.GameView memory g) public view returns (bytes32[] memory) {
        uint256 level = g.path.length;
        if (level == 0 || g.index != _sizes[level] - 1) return new bytes32[](0);
        return ToyTree.proof(leaves(_prefix(g.path, level - 1)), g.path[level - 1]);
    }

    /// @notice The proof of `bind` at a disputed entry 0 below level 0: the parent's entry
    ///         `path[level - 1] - 1` in the parent's tree.
    function bindProof(IDisputeGame.GameView memory g) external view returns (bytes32[] memory) {
        uint256 level = g.path.length;
        return ToyTree.proof(leaves(_prefix(g.path, level - 1)), g.path[level - 1] - 1);
    }

    /// @notice The one-step's arguments: `pre` with the first entry of each list on the path proven
    ///         against its root (`ToyState::operands`), `post` its value alone, the proof of `pre` in
    ///         the current list and the end proof (`endProof`).
    function stepArgs(IDisputeGame.GameView memory g)
        external
        view
        returns (bytes memory pre, bytes memory post, bytes32[] memory preProof, bytes32[] memory end)
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
        end = endProof(g);
    }
}
