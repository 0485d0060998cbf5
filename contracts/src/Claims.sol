// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IClaims} from "./interfaces/IClaims.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {
    BondTooHigh,
    BondTooLow,
    ChallengeWindowOpen,
    ClaimNotPending,
    InvalidConfig,
    ModelNotRegistered,
    NothingToWithdraw,
    PayloadTooLarge,
    UnknownClaim,
    WithdrawalFailed,
    ZeroTraceRoot
} from "./lib/Errors.sol";

/// @title Claims
/// @notice Posting, finalizing and paying out inference claims (see IClaims). The dispute game that
///         refutes claims during their window is built on this contract's ledger.
/// @dev Accounting: `address(this).balance == totalBonded + sum of credited balances`, at all times
///      (tested as an invariant). Only `withdraw` sends ether, after zeroing the balance it pays.
contract Claims is IClaims {
    /// @notice Longest input or output accepted, in bytes (bounds the hashing a post costs).
    uint256 public constant MAX_PAYLOAD_BYTES = 1 << 20;

    /// @notice Where models are registered.
    IModelRegistry public immutable registry;
    /// @notice Smallest bond a claim may carry, in wei.
    uint256 public immutable minBond;
    /// @notice Length of each claim's challenge window, in seconds.
    uint64 public immutable challengeWindow;

    Claim[] private _claims;
    mapping(address account => uint256) private _balances;
    uint256 private _totalBonded;

    constructor(IModelRegistry registry_, uint256 minBond_, uint64 challengeWindow_) {
        if (address(registry_).code.length == 0) revert InvalidConfig("registry is not a contract");
        if (minBond_ == 0 || minBond_ > type(uint96).max) revert InvalidConfig("minBond out of range");
        if (challengeWindow_ == 0 || challengeWindow_ > 365 days) revert InvalidConfig("challengeWindow out of range");
        registry = registry_;
        minBond = minBond_;
        challengeWindow = challengeWindow_;
    }

    /// @inheritdoc IClaims
    function postClaim(bytes32 modelId, bytes calldata input, bytes calldata output, bytes32 traceRoot)
        external
        payable
        returns (uint256 claimId)
    {
        if (msg.value < minBond) revert BondTooLow(msg.value, minBond);
        if (msg.value > type(uint96).max) revert BondTooHigh(msg.value);
        if (input.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(input.length, MAX_PAYLOAD_BYTES);
        if (output.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(output.length, MAX_PAYLOAD_BYTES);
        if (traceRoot == bytes32(0)) revert ZeroTraceRoot();
        if (!registry.isRegistered(modelId)) revert ModelNotRegistered(modelId);

        bytes32 inputHash = keccak256(input);
        bytes32 outputHash = keccak256(output);
        uint64 deadline = uint64(block.timestamp) + challengeWindow;
        claimId = _claims.length;
        _claims.push(
            Claim({
                claimant: msg.sender,
                bond: uint96(msg.value),
                deadline: deadline,
                status: Status.Pending,
                claimHash: _claimHash(modelId, inputHash, outputHash, traceRoot)
            })
        );
        _totalBonded += msg.value;

        emit ClaimPosted(claimId, msg.sender, modelId, inputHash, outputHash, traceRoot, msg.value, deadline);
    }

    /// @inheritdoc IClaims
    function finalize(uint256 claimId) external {
        Claim storage claim = _claim(claimId);
        if (claim.status != Status.Pending) revert ClaimNotPending(claimId);
        if (block.timestamp < claim.deadline) revert ChallengeWindowOpen(claimId, claim.deadline);

        uint256 bond = claim.bond;
        address claimant = claim.claimant;
        claim.status = Status.Finalized;
        _totalBonded -= bond;
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
    function claimHashOf(bytes32 modelId, bytes32 inputHash, bytes32 outputHash, bytes32 traceRoot)
        external
        pure
        returns (bytes32)
    {
        return _claimHash(modelId, inputHash, outputHash, traceRoot);
    }

    /// @inheritdoc IClaims
    function claimCount() external view returns (uint256) {
        return _claims.length;
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
        if (claimId >= _claims.length) revert UnknownClaim(claimId);
        return _claims[claimId];
    }

    function _claimHash(bytes32 modelId, bytes32 inputHash, bytes32 outputHash, bytes32 traceRoot)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(modelId, inputHash, outputHash, traceRoot));
    }
}
