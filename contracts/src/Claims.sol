// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IClaims} from "./interfaces/IClaims.sol";
import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IoState} from "./lib/IoState.sol";
import {Merkle} from "./lib/Merkle.sol";
import {
    BondTooHigh,
    BondTooLow,
    ChallengeWindowClosed,
    ChallengeWindowOpen,
    ClaimMismatch,
    ClaimNotPending,
    GameNotOver,
    GamesOpen,
    InvalidConfig,
    InvalidLevelSizes,
    IoNotInTrace,
    ModelNotRegistered,
    NothingToWithdraw,
    PayloadTooLarge,
    UnknownChallenge,
    UnknownClaim,
    WithdrawalFailed,
    ZeroTraceRoot
} from "./lib/Errors.sol";

/// @title Claims
/// @notice Posting, challenging, finalizing and paying out inference claims (see IClaims). Each
///         challenge opens a game in `game`; `settle` pays a finished game out: a challenger that
///         wins gets its bond back and the claim is rejected, the first such challenger to settle
///         also gets the claimant's bond; a challenger that loses forfeits its bond to the claimant.
/// @dev Accounting: `address(this).balance == totalBonded + sum of credited balances`, at all times
///      (tested as an invariant). Only `withdraw` sends ether, after zeroing the balance it pays.
///      The only other external calls go to `registry` and `game`, both fixed at deployment.
contract Claims is IClaims {
    /// @notice Longest input or output accepted, in bytes (bounds the hashing a post costs).
    uint256 public constant MAX_PAYLOAD_BYTES = 1 << 20;
    /// @notice Most levels a claim's game may have (as DisputeGame.MAX_LEVELS).
    uint256 public constant MAX_LEVELS = 16;
    /// @notice Most entries a level's list may have (as DisputeGame.MAX_LIST_SIZE).
    uint64 public constant MAX_LIST_SIZE = uint64(1) << 48;

    /// @notice Where models are registered.
    IModelRegistry public immutable registry;
    /// @notice Where the games of challenges are played.
    IDisputeGame public immutable game;
    /// @notice Smallest bond a claim or a challenge may carry, in wei.
    uint256 public immutable minBond;
    /// @notice Length of each claim's challenge window, in seconds.
    uint64 public immutable challengeWindow;

    mapping(uint256 claimId => Claim) private _claims;
    mapping(uint256 gameId => Challenge) private _challenges;
    mapping(address account => uint256) private _balances;
    // One slot, so that a post updates both with one cold write. Bonds are below 2^96 and there are
    // fewer than 2^64 claims and challenges: the total stays below 2^160.
    uint64 private _claimCount;
    uint192 private _totalBonded;

    constructor(IModelRegistry registry_, IDisputeGame game_, uint256 minBond_, uint64 challengeWindow_) {
        if (address(registry_).code.length == 0) revert InvalidConfig("registry is not a contract");
        if (address(game_).code.length == 0) revert InvalidConfig("game is not a contract");
        if (minBond_ == 0 || minBond_ > type(uint96).max) revert InvalidConfig("minBond out of range");
        if (challengeWindow_ == 0 || challengeWindow_ > 365 days) revert InvalidConfig("challengeWindow out of range");
        registry = registry_;
        game = game_;
        minBond = minBond_;
        challengeWindow = challengeWindow_;
    }

    /// @inheritdoc IClaims
    function postClaim(
        bytes32 modelId,
        bytes calldata input,
        bytes calldata output,
        bytes32 traceRoot,
        uint64[] calldata levelSizes,
        bytes32[] calldata inputProof,
        bytes32[] calldata outputProof
    ) external payable returns (uint256 claimId) {
        if (msg.value < minBond) revert BondTooLow(msg.value, minBond);
        if (msg.value > type(uint96).max) revert BondTooHigh(msg.value);
        if (input.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(input.length, MAX_PAYLOAD_BYTES);
        if (output.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(output.length, MAX_PAYLOAD_BYTES);
        if (traceRoot == bytes32(0)) revert ZeroTraceRoot();
        // A claim whose game could not be opened could not be refuted: its sizes are checked now.
        uint256 levels = levelSizes.length;
        if (levels == 0 || levels > MAX_LEVELS) revert InvalidLevelSizes();
        for (uint256 l; l < levels; ++l) {
            if (levelSizes[l] < 2 || levelSizes[l] > MAX_LIST_SIZE) revert InvalidLevelSizes();
        }
        if (!registry.isRegistered(modelId)) revert ModelNotRegistered(modelId);
        // The input and output are the trace's first and last states (docs/SPEC.md 4.9): a game only
        // disputes the steps between them, so they are checked here.
        uint256 last = levelSizes[0] - 1;
        bytes32 inputHash = _checkIo(input, "input", 0, traceRoot, last, inputProof);
        bytes32 outputHash = _checkIo(output, "output", last, traceRoot, last, outputProof);
        uint64 deadline = uint64(block.timestamp) + challengeWindow;
        claimId = _claimCount;
        _claims[claimId] = Claim({
            claimant: msg.sender,
            bond: uint96(msg.value),
            deadline: deadline,
            status: Status.Pending,
            openGames: 0,
            claimHash: _claimHash(modelId, inputHash, outputHash, traceRoot, levelSizes)
        });
        _claimCount = uint64(claimId + 1);
        _totalBonded += uint192(msg.value);

        emit ClaimPosted(
            claimId, msg.sender, modelId, inputHash, outputHash, traceRoot, levelSizes, msg.value, deadline
        );
    }

    /// @inheritdoc IClaims
    function challenge(
        uint256 claimId,
        bytes32 modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint64[] calldata levelSizes
    ) external payable returns (uint256 gameId) {
        if (msg.value < minBond) revert BondTooLow(msg.value, minBond);
        if (msg.value > type(uint96).max) revert BondTooHigh(msg.value);
        Claim storage claim = _claim(claimId);
        if (claim.status != Status.Pending) revert ClaimNotPending(claimId);
        if (block.timestamp >= claim.deadline) revert ChallengeWindowClosed(claimId, claim.deadline);
        bytes32 claimHash = claim.claimHash;
        if (_claimHash(modelId, inputHash, outputHash, traceRoot, levelSizes) != claimHash) {
            revert ClaimMismatch(claimId);
        }
        ++claim.openGames;
        _totalBonded += uint192(msg.value);
        // `game` is fixed at deployment and calls nothing back.
        gameId = game.create(claim.claimant, msg.sender, traceRoot, levelSizes, claimHash);
        _challenges[gameId] =
            Challenge({challenger: msg.sender, bond: uint96(msg.value), claimId: uint64(claimId), settled: false});
        emit Challenged(claimId, gameId, msg.sender, msg.value);
    }

    /// @inheritdoc IClaims
    function settle(uint256 gameId) external {
        Challenge storage ch = _challenges[gameId];
        if (ch.challenger == address(0) || ch.settled) revert UnknownChallenge(gameId);
        IDisputeGame.Phase phase = game.phaseOf(gameId);
        if (phase != IDisputeGame.Phase.DefenderWon && phase != IDisputeGame.Phase.ChallengerWon) {
            revert GameNotOver(gameId);
        }
        uint256 claimId = ch.claimId;
        Claim storage claim = _claims[claimId];
        ch.settled = true;
        --claim.openGames;
        uint256 paid = ch.bond;
        address payee;
        bool challengerWon = phase == IDisputeGame.Phase.ChallengerWon;
        if (challengerWon) {
            payee = ch.challenger;
            if (claim.status == Status.Pending) {
                claim.status = Status.Rejected;
                paid += claim.bond;
            }
        } else {
            payee = claim.claimant;
        }
        _totalBonded -= uint192(paid);
        _balances[payee] += paid;
        emit ChallengeSettled(claimId, gameId, challengerWon, payee, paid);
    }

    /// @inheritdoc IClaims
    function finalize(uint256 claimId) external {
        Claim storage claim = _claim(claimId);
        if (claim.status != Status.Pending) revert ClaimNotPending(claimId);
        if (block.timestamp < claim.deadline) revert ChallengeWindowOpen(claimId, claim.deadline);
        if (claim.openGames != 0) revert GamesOpen(claimId, claim.openGames);

        uint256 bond = claim.bond;
        address claimant = claim.claimant;
        claim.status = Status.Finalized;
        _totalBonded -= uint192(bond);
        _balances[claimant] += bond;

        emit ClaimFinalized(claimId, claimant, bond);
    }

    /// @inheritdoc IClaims
    function withdraw() external {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert WithdrawalFailed(msg.sender, amount);
    }

    /// @inheritdoc IClaims
    function getClaim(uint256 claimId) external view returns (Claim memory) {
        return _claim(claimId);
    }

    /// @inheritdoc IClaims
    function getChallenge(uint256 gameId) external view returns (Challenge memory) {
        Challenge memory ch = _challenges[gameId];
        if (ch.challenger == address(0)) revert UnknownChallenge(gameId);
        return ch;
    }

    /// @inheritdoc IClaims
    function claimHashOf(
        bytes32 modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint64[] calldata levelSizes
    ) external pure returns (bytes32) {
        return _claimHash(modelId, inputHash, outputHash, traceRoot, levelSizes);
    }

    /// @inheritdoc IClaims
    function claimCount() external view returns (uint256) {
        return _claimCount;
    }

    /// @inheritdoc IClaims
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IClaims
    function totalBonded() external view returns (uint256) {
        return _totalBonded;
    }

    function _claim(uint256 claimId) private view returns (Claim storage) {
        if (claimId >= _claimCount) revert UnknownClaim(claimId);
        return _claims[claimId];
    }

    /// @dev `io`'s state root is entry `index` of the level-0 list of `last + 1` entries with root
    ///      `traceRoot` (a plain Merkle root, docs/SPEC.md 4.8); returns keccak256(io).
    function _checkIo(
        bytes calldata io,
        string memory which,
        uint256 index,
        bytes32 traceRoot,
        uint256 last,
        bytes32[] calldata proof
    ) private pure returns (bytes32 ioHash) {
        bytes32 root;
        (root, ioHash) = IoState.stateRoot(io, which);
        if (proof.length != Merkle.depthFor(last + 1) || Merkle.rootFromPath(root, index, proof) != traceRoot) {
            revert IoNotInTrace(which);
        }
    }

    function _claimHash(
        bytes32 modelId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 traceRoot,
        uint64[] calldata levelSizes
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(modelId, inputHash, outputHash, traceRoot, keccak256(abi.encodePacked(levelSizes))));
    }
}
