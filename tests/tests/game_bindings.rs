//! The moves of the lazy endpoint binding (docs/SPEC.md 7), sent by the Rust
//! responder to the real `DisputeGame` on Anvil: a disputed entry 0 of an
//! expansion answered by `bind`, and a disputed last entry answered by an
//! expansion with its end proof. After every move the game's mirror replays
//! the transaction's calldata through `bisection::game::rules` and must equal
//! `getGame`; each move read back from its calldata must be the one sent; a
//! move the rules reject must be rejected by the contract and change nothing.

use alloy::primitives::{B256, U256};
use bisection::Target;
use bisection::chain::responder::action_of_call;
use bisection::chain::{Mirror, Responder};
use bisection::game::rules::{Action, Phase, Role};
use bisection::game::tree::Tree;
use bisection::machine::{Claim, OneStep, State};
use refute_e2e::Devnet;
use refute_e2e::dispute::config;
use trace_vm::commit::{Hash, keccak256};

/// List sizes of the game's three levels.
const SIZES: [u64; 3] = [5, 4, 3];

/// A list of `n` made-up leaves from `first` to `last`.
fn list(tag: &str, n: u64, first: Hash, last: Hash) -> Vec<Hash> {
    let mut leaves: Vec<Hash> = (0..n)
        .map(|i| keccak256(format!("{tag} {i}").as_bytes()))
        .collect();
    leaves[0] = first;
    leaves[n as usize - 1] = last;
    leaves
}

/// One game between two accounts over made-up lists, and its mirror.
struct Match {
    defender: Responder,
    challenger: Responder,
    game_id: u64,
    mirror: Mirror,
    vm: OneStep,
}

impl Match {
    async fn open(devnet: &Devnet, level0: &Tree) -> Self {
        let defender = devnet.account().await;
        let challenger = devnet.account().await;
        let node = defender.node();
        let game = node.game();
        let game_id: u64 = game.gameCount().call().await.expect("gameCount").to();
        let root = B256::from(level0.root());
        let create = game.create(
            node.sender(),
            challenger.node().sender(),
            root,
            SIZES.to_vec(),
            B256::ZERO,
        );
        node.transact("create", Target::Game(game_id), create)
            .await
            .expect("a game opens");
        let mirror = Mirror::open(node, game_id).await.expect("mirror opens");
        let vm = OneStep::new(&Claim {
            weights_root: Hash::default(),
            arch_hash: Hash::default(),
            input_hash: Hash::default(),
            output_hash: Hash::default(),
            trace_root: level0.root(),
            sizes: SIZES.to_vec(),
        });
        Self {
            defender,
            challenger,
            game_id,
            mirror,
            vm,
        }
    }

    fn side(&self, role: Role) -> &Responder {
        match role {
            Role::Defender => &self.defender,
            Role::Challenger => &self.challenger,
        }
    }

    /// Sends `action` for the side to move; checks the calldata and the mirror.
    async fn play(&mut self, action: Action<State>) {
        let role = self.mirror.game().to_move().expect("the game is on");
        let r = self.side(role);
        let sent = r
            .act(self.game_id, self.mirror.game(), &action)
            .await
            .unwrap_or_else(|e| panic!("{role:?}'s {action:?} was rejected: {e}"));
        let tx = r
            .node()
            .transaction(Target::Game(self.game_id), sent.tx, "the move")
            .await
            .expect("the move's transaction");
        use alloy::consensus::Transaction;
        assert_eq!(
            action_of_call(tx.input()),
            Some(action),
            "calldata reads back"
        );
        let node = r.node().clone();
        self.mirror
            .sync(&node, &self.vm)
            .await
            .expect("the contract's game equals the rules'");
    }

    /// Sends `action`, which the rules reject with `reason`: the contract
    /// rejects it too and the game does not change.
    async fn rejected(&mut self, action: Action<State>, reason: &str) {
        let role = self.mirror.game().to_move().expect("the game is on");
        let before = self.mirror.game().clone();
        let err = self
            .side(role)
            .act(self.game_id, &before, &action)
            .await
            .expect_err("the contract rejects it");
        assert!(err.to_string().contains(reason), "{err}");
        let node = self.side(role).node().clone();
        self.mirror.sync(&node, &self.vm).await.expect("in sync");
        assert_eq!(self.mirror.game(), &before);
    }

    /// Reveals `children` (checked by the rules' mirror) and picks `child`.
    async fn dissect(&mut self, children: Vec<Hash>, child: u64) {
        self.play(Action::Reveal { children }).await;
        self.play(Action::Pick { child }).await;
    }
}

/// The level-0 list, and the expansion of its step `p` (entries `p - 1` to `p`).
fn lists(p: u64) -> (Tree, Tree) {
    let zero = list(
        "level 0",
        SIZES[0],
        keccak256(b"input"),
        keccak256(b"output"),
    );
    let one = list("level 1", SIZES[1], zero[p as usize - 1], zero[p as usize]);
    (Tree::new(&zero), Tree::new(&one))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disputed_first_entry_is_bound_to_the_parent_and_the_defender_wins() {
    let devnet = Devnet::start(config()).await;
    let (zero, one) = lists(2);
    let mut m = Match::open(&devnet, &zero).await;
    // 5 entries: a depth-3 tree, opened whole at d = 4.
    m.dissect(zero.descendants(0, 0, 3), 2).await;
    m.play(Action::Expand {
        sub_root: one.root(),
        children: one.descendants(0, 0, 2),
        end_proof: vec![],
    })
    .await;
    m.play(Action::Pick { child: 0 }).await;
    assert_eq!(m.mirror.game().phase(), &Phase::Step);
    m.rejected(
        Action::Bind {
            proof: zero.proof(2),
        },
        "first entry",
    )
    .await;
    m.play(Action::Bind {
        proof: zero.proof(1),
    })
    .await;
    assert_eq!(m.mirror.game().winner(), Some(Role::Defender));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disputed_last_entry_is_expanded_with_its_end_proof() {
    let devnet = Devnet::start(config()).await;
    let (zero, one) = lists(4);
    let two = Tree::new(&list("level 2", SIZES[2], one.node(2, 2), one.node(2, 3)));
    let mut m = Match::open(&devnet, &zero).await;
    m.dissect(zero.descendants(0, 0, 3), 4).await;
    m.play(Action::Expand {
        sub_root: one.root(),
        children: one.descendants(0, 0, 2),
        end_proof: vec![],
    })
    .await;
    m.play(Action::Pick { child: 3 }).await;
    let expand = |end_proof| Action::Expand {
        sub_root: two.root(),
        children: two.descendants(0, 0, 2),
        end_proof,
    };
    // Level 1's last entry is level 0's entry 4, the step it expands.
    m.rejected(expand(vec![]), "last entry").await;
    m.rejected(expand(zero.proof(3)), "last entry").await;
    m.play(expand(zero.proof(4))).await;
    assert_eq!(m.mirror.game().path(), &[4, 3]);
    m.play(Action::Pick { child: 2 }).await;
    // The defender does not prove the one-step: the challenger wins on time.
    devnet.advance(config().clock + 1).await;
    m.play(Action::Timeout).await;
    assert_eq!(m.mirror.game().winner(), Some(Role::Challenger));
    let chain = m.defender.node().game();
    let phase = chain
        .phaseOf(U256::from(m.game_id))
        .call()
        .await
        .expect("phaseOf");
    assert_eq!(phase as u8, 5, "ChallengerWon on chain");
}
