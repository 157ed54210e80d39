//! `prover-node`: the PaaS main job.
//!
//! Runs a proving service on the embedded SQLite store in a data folder, and a
//! checkpoint runner that submits the checkpoints of a generated chain
//! through a bounded window. Proves on the native backend by default, or on
//! SP1 (mock or real CPU proofs) when built with `--features sp1`. Shows
//! progress (bars on a terminal, a line every few seconds in a log), drains
//! gracefully on SIGINT or SIGTERM (a second one stops at once), and prints a
//! summary naming every checkpoint that failed. A second run on the same
//! folder resumes where the first stopped, without proving again what is
//! complete.
//!
//! `prover-node serve` does the same and serves the HTTP API (paas-api:
//! REST, JSON-RPC, events, metrics, the status page) while it runs, until
//! stopped; `submit`, `status`, `proof`, `cancel` and `list` talk to a
//! running node over that API.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::parser::ValueSource;
use clap::{
    ArgMatches, Args as ClapArgs, CommandFactory as _, FromArgMatches as _, Parser, Subcommand,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use paas_core::service::{ShutdownReport, Summary};
use paas_core::store::TaskStore;
use paas_core::{Backend, BackendMap, PoolConfig, ProverHandle, RetryPolicy, Service, Status};
use paas_examples::node::{
    AttemptStats, DataDir, Id, NodeProver, NodeStore, RunConfig, Runner, StoreChoice, Tally,
};
use paas_examples::node_client::{self, NodeClient};
use paas_examples::node_config::NodeConfig;
use paas_examples::{ChainContext, hex, rate};
use paas_zkvm::programs::{Chain, Checkpoint};
use paas_zkvm::{NativeHost, ZkVmBackend, ZkVmHost, ZkVmProgram, ZkVmProver};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

const EXIT_CODES: &str = "\
Exit codes:
  0    every checkpoint of the range is proved
  1    some checkpoints failed or were cancelled (the summary lists them), or the node could not run
  2    the command line is wrong
  130  stopped by SIGINT (Ctrl-C), after draining
  143  stopped by SIGTERM, after draining

Stopping: SIGINT or SIGTERM stops submitting and lets running proofs finish for
--grace-secs, then prints the summary; a second signal stops at once (the
interrupted proofs go back to the queue, their attempts refunded). Run the same
command again to resume; add --retry-failed to prove failed checkpoints again.

Settings come from the command line, then the environment (PAAS_DATA_DIR,
PAAS_LISTEN, PAAS_NODE, PAAS_CONFIG; tokens only from PAAS_TOKEN and
PAAS_READ_TOKEN), then the --config file (TOML: [node], [pools], [retry],
[api], [client]; see docs/api.md), then the defaults.";

const CLIENT_HELP: &str = "\
Talks to a running `prover-node serve` over its HTTP API (PAAS_NODE or
--node, default http://127.0.0.1:8420; the token from PAAS_TOKEN or the
--config file's [api] token). Exit code 0 when the call did what was asked,
1 otherwise (an unknown task, no proof yet, a refused call, no node).";

/// The prover node, its API, and the client of a running one.
#[derive(Debug, Parser)]
#[command(
    name = "prover-node",
    version,
    about = "PaaS prover node: proves checkpoints of a generated chain on a durable store (SQLite, or PostgreSQL shared by many nodes)",
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand: run the node (no API).
    #[command(flatten)]
    run: Args,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node and serve its HTTP API and status page while it runs
    /// (after the range is proved it keeps serving until SIGINT/SIGTERM).
    #[command(after_help = EXIT_CODES)]
    Serve {
        #[command(flatten)]
        run: Args,
        /// Where the API listens; another address than loopback needs a
        /// token (PAAS_TOKEN or the config file's `api.token`).
        #[arg(long, env = "PAAS_LISTEN", value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Submit checkpoints to a running node.
    #[command(after_help = CLIENT_HELP)]
    Submit {
        #[command(flatten)]
        node: NodeArgs,
        /// Checkpoint indexes.
        #[arg(required = true)]
        indexes: Vec<u64>,
        /// Their backend.
        #[arg(long, default_value = "native", value_parser = backend)]
        backend: ZkVmBackend,
        /// Their priority (higher runs first).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i32,
    },
    /// Show a checkpoint's state, times and failed attempts.
    #[command(after_help = CLIENT_HELP)]
    Status {
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        task: TaskArg,
    },
    /// Download a proved checkpoint's proof (its stored bytes).
    #[command(after_help = CLIENT_HELP)]
    Proof {
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        task: TaskArg,
        /// Where to write it (default: checkpoint-INDEX.proof).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Cancel a checkpoint.
    #[command(after_help = CLIENT_HELP)]
    Cancel {
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        task: TaskArg,
    },
    /// List checkpoints, newest first, a page at a time.
    #[command(after_help = CLIENT_HELP)]
    List {
        #[command(flatten)]
        node: NodeArgs,
        /// Only this status (pending, proving, retrying, completed, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only this backend.
        #[arg(long)]
        backend: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// The cursor a previous page printed.
        #[arg(long)]
        cursor: Option<String>,
        /// Oldest first.
        #[arg(long)]
        oldest: bool,
    },
    /// List the nodes sharing the node's store (on PostgreSQL, the whole
    /// cluster), with how long each has been silent: longer than its lease
    /// (30 s by default) means it has stopped.
    #[command(after_help = CLIENT_HELP)]
    Nodes {
        #[command(flatten)]
        node: NodeArgs,
    },
}

/// Where the node is.
#[derive(Debug, ClapArgs)]
struct NodeArgs {
    /// The node's API.
    #[arg(long, env = "PAAS_NODE", value_name = "URL")]
    node: Option<String>,
    /// Configuration file (TOML; its `client.node` and `api.token` are used).
    #[arg(long, env = "PAAS_CONFIG")]
    config: Option<PathBuf>,
}

/// One checkpoint.
#[derive(Debug, ClapArgs)]
struct TaskArg {
    /// The checkpoint's index.
    index: u64,
    /// Its backend.
    #[arg(long, default_value = "native", value_parser = backend)]
    backend: ZkVmBackend,
}

/// Proves checkpoints of a generated chain, durably, until done or stopped.
#[derive(Debug, ClapArgs)]
struct Args {
    /// Configuration file (TOML): data folder, backend, pools, retry, API
    /// address and tokens; the command line and the environment win over it.
    #[arg(long, env = "PAAS_CONFIG")]
    config: Option<PathBuf>,

    /// Folder for the task database (`tasks.db`), the chain it holds
    /// (`chain.toml`) and the native host key; created if missing. One node
    /// at a time per folder on the SQLite store; nodes on one PostgreSQL
    /// store may share a folder (it then holds only the chain and the key).
    #[arg(long, env = "PAAS_DATA_DIR", default_value = "paas-data")]
    data_dir: PathBuf,

    /// Where the tasks are: `sqlite` (the default: `tasks.db` in the data
    /// folder, one node) or a PostgreSQL connection string
    /// (`postgres://user@host:port/db`) that several nodes share, on one
    /// machine or many.
    #[arg(long, default_value = "sqlite", value_name = "STORE", value_parser = store_choice)]
    store: StoreChoice,

    /// With a PostgreSQL store: this node's name in the cluster, unique among
    /// live nodes (default: host-pid). A node restarting under the same name
    /// takes back its previous run's proofs at once.
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,

    /// With a PostgreSQL store: the schema its tables live in (default
    /// `paas`; another schema is another cluster in the same database).
    #[arg(long, value_name = "SCHEMA")]
    pg_schema: Option<String>,

    /// How many checkpoints to prove, 0 to 10^12 (0: keep going until
    /// stopped; at most 10^12 so block heights fit in 64 bits).
    #[arg(long, default_value_t = 200, allow_negative_numbers = true, value_parser = ranged(0, 1_000_000_000_000, "0 means no end; beyond 10^12 block heights would not fit in 64 bits"))]
    checkpoints: u64,

    /// Blocks in each checkpoint, 1 to 65,536 (a checkpoint's blocks are
    /// held in memory while it is proved, about 100 bytes each per worker).
    #[arg(long, default_value_t = 128, allow_negative_numbers = true, value_parser = ranged(1, 65_536, "a checkpoint has at least one block, and its blocks are held in memory while it is proved"))]
    blocks_per_checkpoint: u64,

    /// Seed of the generated chain, 0 or more (another seed is another
    /// chain: use another data folder).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = ranged(0, u64::MAX, "a seed is a 64-bit unsigned number"))]
    chain_seed: u64,

    /// Backend that proves the checkpoints: native, or sp1 (needs a build with
    /// `--features sp1` and the guest ELFs from `scripts/build-guests.sh`).
    #[arg(long, default_value = "native", value_parser = backend)]
    backend: ZkVmBackend,

    /// Only with `--backend sp1` (default `mock`): `mock` executes the guest
    /// in SP1 for real but makes mock proofs (seconds, under 1 GB; a mock
    /// proof proves nothing), `cpu` makes real SP1 Core proofs (the prover
    /// takes ~95 s to start, then each proof ~80 s or more and ~10-15 GB of
    /// memory: use few, small checkpoints, e.g. `--checkpoints 1
    /// --blocks-per-checkpoint 4`).
    #[arg(long, value_name = "MODE")]
    sp1_mode: Option<String>,

    /// Pool configuration file (TOML), e.g. `[native]\nworkers = 4`; backends left out keep their defaults.
    #[arg(long)]
    pools: Option<PathBuf>,

    /// Milliseconds between two checkpoints, as if the chain produced them
    /// over time, 0 to 3,600,000 (0: as fast as they are proved; more than
    /// an hour is surely a mistake: the value is in milliseconds).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = ranged(0, 3_600_000, "milliseconds; more than an hour between checkpoints is surely a mistake"))]
    interval_ms: u64,

    /// Seconds running proofs may take to finish after SIGINT or SIGTERM
    /// before they are interrupted, 0 to 3,600 (keep it below your service
    /// manager's stop timeout: systemd's default is 90 s, Kubernetes' 30 s).
    #[arg(long, default_value_t = 30, allow_negative_numbers = true, value_parser = ranged(0, 3_600, "a service manager kills a stopping process long before an hour"))]
    grace_secs: u64,

    /// Time limit of one proof attempt, in seconds, 0.001 to 86,400 (an
    /// attempt past it is cancelled and retried like a transient failure;
    /// default: no limit).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = attempt_timeout)]
    attempt_timeout_secs: Option<Duration>,

    /// Retries after a checkpoint's first attempt before it fails, 0 to 100
    /// (they back off from 1 s doubling to 60 s: 100 already span over 1.5
    /// hours).
    #[arg(long, default_value_t = u64::from(RetryPolicy::default().max_retries), allow_negative_numbers = true, value_parser = ranged(0, 100, "retries back off up to 60 s each: 100 already span over 1.5 hours"))]
    max_retries: u64,

    /// Seconds between two progress lines when the output is not a
    /// terminal, 1 to 3,600.
    #[arg(long, default_value_t = 5, allow_negative_numbers = true, value_parser = ranged(1, 3_600, "seconds between two progress lines"))]
    progress_secs: u64,

    /// Prove again the checkpoints of the range that failed (or were
    /// cancelled) in earlier runs, each with a fresh attempt budget.
    #[arg(long)]
    retry_failed: bool,

    /// Print only the start line and the summary (which lists the failures).
    #[arg(long)]
    quiet: bool,
}

// ---- option checks -----------------------------------------------------------

/// A whole number in `min..=max`; the message says why the range is what it is.
fn number(text: &str, min: u64, max: u64, why: &str) -> Result<u64, String> {
    let text = text.trim().replace('_', "");
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) if n < min => Err(format!("must be at least {min}, got {n} ({why})")),
        Ok(n) => Err(format!("must be at most {max}, got {n} ({why})")),
        Err(_) if text.starts_with('-') && text[1..].parse::<u64>().is_ok() => {
            Err(format!("must be {} or more, got {text} ({why})", min))
        }
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

fn store_choice(s: &str) -> Result<StoreChoice, String> {
    if s == "sqlite" {
        Ok(StoreChoice::Sqlite)
    } else if s.starts_with("postgres://") || s.starts_with("postgresql://") || s.contains('=') {
        Ok(StoreChoice::Postgres {
            url: s.to_string(),
            node: None,
            schema: None,
        })
    } else {
        Err(format!(
            "`{s}` is neither `sqlite` nor a PostgreSQL connection string (postgres://user@host/db)"
        ))
    }
}

fn backend(s: &str) -> Result<ZkVmBackend, String> {
    s.parse()
        .map_err(|e: paas_core::backend::UnknownBackend| e.to_string())
}

/// A parser of whole numbers in `min..=max`, for clap.
fn ranged(
    min: u64,
    max: u64,
    why: &'static str,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |s| number(s, min, max, why)
}

fn attempt_timeout(s: &str) -> Result<Duration, String> {
    const WHY: &str =
        "seconds; below a millisecond no proof finishes, above a day leave the limit out";
    let text = s.trim();
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.001..=86_400.0).contains(&secs) {
        let sign = if secs < 0.0 {
            " (it must be positive)"
        } else {
            ""
        };
        return Err(format!(
            "must be between 0.001 and 86400, got {text}{sign} ({WHY})"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

// ---- signals -------------------------------------------------------------------

/// The signal that stopped the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Interrupt,
    Terminate,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as a shell reports a death by it.
    fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
        })
    }
}

/// SIGINT and SIGTERM, caught from the start (so neither kills the node
/// before it has drained).
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Stop {
        tokio::select! {
            _ = self.interrupt.recv() => Stop::Interrupt,
            _ = self.terminate.recv() => Stop::Terminate,
        }
    }
}

// ---- main ------------------------------------------------------------------------

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    paas_examples::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("prover-node: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let result = match cli.command {
            None => node(cli.run, &matches, None).await,
            Some(Command::Serve { run, listen }) => {
                let matches = matches.subcommand_matches("serve").unwrap_or(&matches);
                node(run, matches, Some(listen)).await
            }
            Some(command) => client(command).await,
        };
        match result {
            Ok(code) => code,
            Err(err) => {
                eprintln!("prover-node: {err}");
                ExitCode::FAILURE
            }
        }
    });
    // An interrupted proof's blocking zkVM call cannot be stopped, and its
    // task is already back in the queue: do not wait for the thread.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

/// What the node runs with besides its options: the pools and retry policy
/// (options over the config file), and the API when serving.
struct Settings {
    pools: BackendMap<ZkVmBackend, PoolConfig>,
    retry: RetryPolicy,
    api: Option<ApiSetup>,
}

/// The API of `prover-node serve`.
struct ApiSetup {
    listen: SocketAddr,
    token: Option<String>,
    read_token: Option<String>,
}

/// Whether option `id` was left at its default (not given on the command
/// line or in the environment), so the config file may set it.
fn defaulted(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        None | Some(ValueSource::DefaultValue)
    )
}

/// Runs the node (serving its API when `serve` is set), with the config
/// file filling what the command line and environment left at defaults.
async fn node(
    mut args: Args,
    matches: &ArgMatches,
    serve: Option<Option<SocketAddr>>,
) -> Result<ExitCode, Error> {
    let mut config = NodeConfig::load(args.config.as_deref())?;
    if defaulted(matches, "data_dir")
        && let Some(dir) = config.node.data_dir.take()
    {
        args.data_dir = dir;
    }
    if defaulted(matches, "backend")
        && let Some(name) = config.node.backend.as_deref()
    {
        args.backend = backend(name).map_err(|e| format!("config file: [node] backend: {e}"))?;
    }
    if defaulted(matches, "grace_secs")
        && let Some(secs) = config.node.grace_secs
    {
        args.grace_secs = number(&secs.to_string(), 0, 3_600, "seconds to drain")
            .map_err(|e| format!("config file: [node] grace_secs {e}"))?;
    }
    let (name, schema) = (args.node_name.take(), args.pg_schema.take());
    match &mut args.store {
        StoreChoice::Postgres {
            node, schema: s, ..
        } => (*node, *s) = (name, schema),
        StoreChoice::Sqlite if name.is_some() || schema.is_some() => Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--node-name and --pg-schema apply only with a PostgreSQL --store",
            )
            .exit(),
        StoreChoice::Sqlite => {}
    }
    if args.backend != ZkVmBackend::SP1 && args.sp1_mode.is_some() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--sp1-mode applies only with --backend sp1 (this run proves on `{}`)",
                    args.backend
                ),
            )
            .exit();
    }
    let pools = match (&args.pools, config.pools()) {
        (None, Some(pools)) => pools,
        (path, _) => load_pools(path.as_deref())?,
    };
    // The file's [retry] policy, with --max-retries over its max_retries.
    let file_retry = config.retry.take();
    let keep_file_retries = file_retry.is_some() && defaulted(matches, "max_retries");
    let mut retry = file_retry.unwrap_or_default();
    if !keep_file_retries {
        retry.max_retries = u32::try_from(args.max_retries)?;
    }
    retry
        .validate()
        .map_err(|e| format!("config file: [retry] {e}"))?;
    let api = serve.map(|listen| ApiSetup {
        listen: listen
            .or(config.api.listen)
            .unwrap_or(paas_api::server::DEFAULT_ADDR),
        token: config.token(),
        read_token: config.read_token(),
    });
    run(args, Settings { pools, retry, api }).await
}

/// One client subcommand against a running node.
async fn client(command: Command) -> Result<ExitCode, Error> {
    let connect = |node: &NodeArgs| -> Result<NodeClient, Error> {
        let config = NodeConfig::load(node.config.as_deref())?;
        let url = node
            .node
            .clone()
            .or(config.client.node.clone())
            .unwrap_or_else(|| format!("http://{}", paas_api::server::DEFAULT_ADDR));
        let client = NodeClient::new(&url)?;
        Ok(match config.token() {
            Some(token) => client.token(&token)?,
            None => client,
        })
    };
    let ok = |done: bool| {
        if done {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    };
    Ok(match command {
        Command::Submit {
            node,
            indexes,
            backend,
            priority,
        } => {
            node_client::submit(&connect(&node)?, &indexes, backend, priority).await?;
            ExitCode::SUCCESS
        }
        Command::Status { node, task } => {
            ok(node_client::status(&connect(&node)?, &Id::new(task.index, task.backend)).await?)
        }
        Command::Proof { node, task, out } => {
            let out =
                out.unwrap_or_else(|| PathBuf::from(format!("checkpoint-{}.proof", task.index)));
            let id = Id::new(task.index, task.backend);
            ok(node_client::proof(&connect(&node)?, &id, &out)
                .await
                .map_err(|e| e.to_string())?)
        }
        Command::Cancel { node, task } => {
            node_client::cancel(&connect(&node)?, &Id::new(task.index, task.backend)).await?;
            ExitCode::SUCCESS
        }
        Command::List {
            node,
            status,
            backend,
            limit,
            cursor,
            oldest,
        } => {
            let params = paas_api::wire::ListParams {
                status,
                backend,
                cursor,
                order: oldest.then(|| "oldest".to_string()),
                limit: Some(limit),
            };
            node_client::list(&connect(&node)?, &params).await?;
            ExitCode::SUCCESS
        }
        Command::Nodes { node } => {
            node_client::nodes(&connect(&node)?).await?;
            ExitCode::SUCCESS
        }
        Command::Serve { .. } => {
            return Err("`serve` runs the node, it is not a client call".into());
        }
    })
}

/// What the node runs with, once its data folder, hosts and service are up.
struct Node {
    dir: DataDir,
    handle: ProverHandle<NodeProver>,
    host: Arc<dyn ZkVmHost>,
    stats: Arc<AttemptStats>,
    config: RunConfig,
    workers: usize,
}

async fn run(args: Args, settings: Settings) -> Result<ExitCode, Error> {
    let mut signals = Signals::install()?;
    // The recorder first: the service takes its metric handles at start.
    let metrics = match &settings.api {
        Some(_) => Some(paas_api::server::install_prometheus()?),
        None => None,
    };
    let node = tokio::select! {
        node = start(&args, &settings) => node?,
        stop = signals.next() => {
            println!("prover-node: {} before the node started: stopped", stop.name());
            return Ok(stop.exit_code());
        }
    };
    let backend = node.config.backend;
    println!(
        "prover-node: tasks in {}, proving {} checkpoint(s) of {} blocks on `{backend}` ({} worker(s), up to {} in flight)",
        node.dir.describe_store(),
        match node.config.checkpoints {
            None => "unlimited".to_string(),
            Some(n) => n.to_string(),
        },
        args.blocks_per_checkpoint,
        node.workers,
        node.config.window,
    );
    let server = match (&settings.api, metrics) {
        (Some(api), Some(metrics)) => {
            let mut builder = paas_api::server::ApiBuilder::new(node.handle.clone())
                .token_text(api.token.as_deref())?
                .metrics(metrics);
            if let Some(read) = api.read_token.as_deref() {
                builder = builder.read_token(paas_api::server::Token::new(read)?);
            }
            let server = builder
                .serve(paas_api::server::ServeConfig::at(api.listen))
                .await?;
            println!(
                "prover-node: API and status page on http://{}/ ({})",
                server.local_addr(),
                if api.token.is_some() {
                    "token required"
                } else {
                    "no token: loopback only"
                }
            );
            Some(server)
        }
        _ => None,
    };
    let started = Instant::now();
    let mut runner = Runner::new(node.config.clone());
    let progress = Progress::start(
        ProgressMode::of(&args),
        runner.tally(),
        node.config.checkpoints,
        node.handle.summary(),
        backend,
    );
    let mut stopped = tokio::select! {
        result = runner.run(&node.handle) => { result?; None }
        stop = signals.next() => Some(stop),
    };
    // The run's time: what a serving node then waits is not proving.
    let elapsed = started.elapsed();
    if let Some(server) = server {
        if stopped.is_none() {
            progress
                .println("the range is done; serving the API until SIGINT or SIGTERM".to_string());
            stopped = Some(signals.next().await);
        }
        // No new calls while the service drains; event streams end.
        server.shutdown().await?;
    }
    let grace = Duration::from_secs(args.grace_secs);
    let report = match stopped {
        None => node.handle.shutdown(grace).await?,
        Some(stop) => {
            progress.println(format!(
                "{}: draining: running proofs get {}s to finish ({} again stops at once)",
                stop.name(),
                args.grace_secs,
                stop.name()
            ));
            tokio::select! {
                report = node.handle.shutdown(grace) => report?,
                again = signals.next() => {
                    progress.println(format!(
                        "{}: stopping now; interrupted proofs go back to the queue",
                        again.name()
                    ));
                    node.handle.shutdown(Duration::ZERO).await?
                }
            }
        }
    };
    runner.settle(node.dir.store()).await?;
    progress.finish();
    let tally = runner
        .tally()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if stopped.is_some() {
        print_drain(&report);
    }
    let last = last_verified(&tally, node.dir.store(), &node.host, backend).await?;
    print_summary(
        &tally,
        &node.stats,
        elapsed,
        left_in_queue(&report),
        last,
        node.dir.store().is_shared(),
    );
    Ok(match stopped {
        Some(stop) => stop.exit_code(),
        None if tally.failed > 0 => ExitCode::FAILURE,
        None => ExitCode::SUCCESS,
    })
}

/// Opens and checks the data folder, starts the hosts and the service.
async fn start(args: &Args, settings: &Settings) -> Result<Node, Error> {
    let backend = args.backend;
    let sp1 = sp1_host(backend, args.sp1_mode.as_deref().unwrap_or("mock"))?;
    let pools = settings.pools.clone();
    // The database first: it locks the folder for this process, so a second
    // node stops here, before it reads or writes anything else.
    let dir = DataDir::open(&args.data_dir, &args.store).await?;
    let chain = Chain::new(args.chain_seed, args.blocks_per_checkpoint);
    let native_id = hex(&Checkpoint::native_program_id().0);
    dir.check_chain(&chain, &[(ZkVmBackend::Native, native_id)])?;
    let native: Arc<dyn ZkVmHost> =
        Arc::new(NativeHost::for_program::<Checkpoint>(dir.host_key().await?));
    let context = ChainContext::new(chain.clone()).with_receipts(dir.store().clone(), backend);
    let mut prover = ZkVmProver::new(context).with_host(ZkVmBackend::Native, native);
    if let Some(start) = sp1 {
        let (host, program_id) = start.await?;
        dir.check_chain(&chain, &[(ZkVmBackend::SP1, hex(&program_id))])?;
        prover = prover.with_host(ZkVmBackend::SP1, host);
    }
    // The host that verifies the newest receipt for the summary.
    let host = prover
        .host(backend)
        .cloned()
        .ok_or_else(|| format!("no host for backend {backend}"))?;
    let (prover, stats) = NodeProver::new(prover);
    let workers = pools[backend].workers;
    let mut config = RunConfig::new(
        backend,
        (args.checkpoints > 0).then_some(args.checkpoints),
        workers,
    );
    config.interval = Duration::from_millis(args.interval_ms);
    config.retry_failed = args.retry_failed;
    let mut builder = Service::builder(prover)
        .store(dir.store().clone())
        .pools(pools)
        .retry(settings.retry.clone())
        // Never more unfinished tasks than the runner's window (backpressure),
        // and room for as many from API clients when serving.
        .queue_capacity(config.window + if settings.api.is_some() { API_ROOM } else { 0 });
    if let Some(limit) = args.attempt_timeout_secs {
        builder = builder.timeout(backend, limit);
    }
    let handle = builder.start().await?;
    Ok(Node {
        dir,
        handle,
        host,
        stats,
        config,
        workers,
    })
}

/// Unfinished tasks API clients may add to a serving node's queue (past it
/// their submits wait).
const API_ROOM: usize = 10_000;

/// A started host and its program id, or why it could not start.
type HostResult = Result<(Arc<dyn ZkVmHost>, [u8; 32]), Error>;

/// Starts the SP1 host when `backend` is SP1 (a future, so the database and
/// the native host are checked first); `None` for other backends.
#[cfg(feature = "sp1")]
fn sp1_host(
    backend: ZkVmBackend,
    mode: &str,
) -> Result<Option<impl Future<Output = HostResult>>, Error> {
    use paas_zkvm::{Sp1Client, Sp1Config, Sp1Mode};
    let mode: Sp1Mode = mode.parse()?;
    if backend != ZkVmBackend::SP1 {
        return Ok(None);
    }
    Ok(Some(async move {
        println!(
            "prover-node: starting the SP1 {mode} prover{}",
            if mode == Sp1Mode::Cpu {
                " (about 95 s; each real proof needs ~10 GB of memory)"
            } else {
                ""
            }
        );
        // The SP1 client and setup block: keep them off the async workers.
        tokio::task::spawn_blocking(move || {
            let client = Sp1Client::new(Sp1Config::new(mode))?;
            let host = client.host::<Checkpoint>()?;
            let program_id = host.program_id().0;
            let host: Arc<dyn ZkVmHost> = Arc::new(host);
            HostResult::Ok((host, program_id))
        })
        .await?
    }))
}

/// Without the `sp1` feature the SP1 backend is not built in: say so.
#[cfg(not(feature = "sp1"))]
fn sp1_host(
    backend: ZkVmBackend,
    _mode: &str,
) -> Result<Option<std::future::Ready<HostResult>>, Error> {
    if backend == ZkVmBackend::SP1 {
        return Err(
            "backend `sp1` is not built into this binary; rebuild with `--features sp1`".into(),
        );
    }
    Ok(None)
}

/// Reads the pool file, if any, over the backend's declared defaults.
fn load_pools(path: Option<&Path>) -> Result<BackendMap<ZkVmBackend, PoolConfig>, Error> {
    let Some(path) = path else {
        return Ok(ZkVmBackend::default_pools());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read pool file {}: {e}", path.display()))?;
    let pools: <ZkVmBackend as Backend>::Pools =
        toml::from_str(&text).map_err(|e| format!("pool file {}: {e}", path.display()))?;
    Ok(pools.into())
}

// ---- the summary --------------------------------------------------------------------

/// Verifies the newest checkpoint proved (in this run, or else found proved)
/// and describes it: one receipt read, whatever the range.
async fn last_verified(
    tally: &Tally,
    store: &NodeStore,
    host: &Arc<dyn ZkVmHost>,
    backend: ZkVmBackend,
) -> Result<Option<(u64, String)>, Error> {
    let newest = match (&tally.last_proved, tally.last_resumed) {
        (Some((i, receipt)), resumed) if resumed.is_none_or(|r| *i > r) => {
            Some((*i, receipt.clone()))
        }
        (_, Some(i)) => store
            .proof(&Id::new(i, backend))
            .await?
            .map(|receipt| (i, receipt)),
        (_, None) => None,
    };
    let Some((index, receipt)) = newest else {
        return Ok(None);
    };
    host.verify(&receipt)?;
    let out = Checkpoint::process_output(&receipt.receipt.public_values)?;
    let root = hex(&out.new_root[..8]);
    Ok(Some((
        index,
        format!("height {} root {root}…", out.last_height),
    )))
}

/// Every task the stopped service left in the queue: the interrupted ones,
/// the ones waiting to retry, and the others queued.
fn left_in_queue(report: &ShutdownReport<Id>) -> u64 {
    let retrying = report
        .finished
        .iter()
        .filter(|(_, status)| *status == Status::Retrying)
        .count();
    report.queued + (report.interrupted.len() + retrying) as u64
}

fn print_drain(report: &ShutdownReport<Id>) {
    println!(
        "drained: {} finished, {} interrupted and queued again (attempts refunded), {} waiting for the next run",
        report.finished.len(),
        report.interrupted.len(),
        report.queued
    );
}

/// The summary; on a store other nodes share, `proved this run` counts the
/// checkpoints completed while this node waited, by any node, and a line
/// says how many this node proved itself.
fn print_summary(
    tally: &Tally,
    stats: &AttemptStats,
    elapsed: Duration,
    left: u64,
    last: Option<(u64, String)>,
    shared: bool,
) {
    let ms = |d: Option<Duration>| {
        d.map_or_else(
            || "-".to_string(),
            |d| format!("{:.1} ms", d.as_secs_f64() * 1e3),
        )
    };
    println!("\nsummary");
    if shared {
        println!(
            "  proved this run      {} (by any node of the cluster)",
            tally.proved
        );
        println!("  proved by this node  {}", stats.proofs());
    } else {
        println!("  proved this run      {}", tally.proved);
    }
    println!(
        "  already proved       {} (resumed from earlier runs)",
        tally.resumed
    );
    println!("  failed               {}", tally.failed);
    if tally.requeued > 0 {
        println!(
            "  retried failed       {} (queued again with a fresh attempt budget)",
            tally.requeued
        );
    }
    println!("  retries this run     {}", stats.retries());
    if left > 0 && shared {
        println!(
            "  left in the queue    {left} (the cluster's: other nodes, or the next run, prove them)"
        );
    } else if left > 0 {
        println!("  left in the queue    {left} (the next run proves them)");
    }
    println!("  elapsed              {:.2} s", elapsed.as_secs_f64());
    let made = if shared { stats.proofs() } else { tally.proved };
    println!(
        "  throughput           {}{}",
        rate(made, elapsed.as_secs_f64()),
        if shared { " (this node)" } else { "" }
    );
    println!(
        "  proof time p50 / p99 {} / {}",
        ms(stats.proof_time(0.5)),
        ms(stats.proof_time(0.99))
    );
    if let Some((index, what)) = last {
        println!("  last checkpoint      #{index}: {what} (receipt verified)");
    }
    if tally.failed > 0 {
        let listed = tally.failures.len() as u64;
        println!(
            "\nfailed checkpoints: {}{}",
            tally.failed,
            if listed < tally.failed {
                format!(" (the first {listed} listed)")
            } else {
                String::new()
            }
        );
        for failed in &tally.failures {
            println!("  {failed}");
        }
        println!(
            "to prove them again: fix the cause (a too-tight --attempt-timeout-secs, ...), \
             then run again with --retry-failed"
        );
    }
}

// ---- progress ---------------------------------------------------------------------------

/// How progress is shown.
#[derive(Debug, Clone, Copy)]
enum ProgressMode {
    /// A bar on the terminal.
    Bars,
    /// A line every so often (output to a log or a pipe).
    Lines(Duration),
    /// Failures only.
    Quiet,
}

impl ProgressMode {
    fn of(args: &Args) -> Self {
        if args.quiet {
            ProgressMode::Quiet
        } else if std::io::stdout().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines(Duration::from_secs(args.progress_secs))
        }
    }
}

/// Shows progress from the runner's figures, on a ticker: a bar (only the
/// proving backend's: the others have no work) or a line every few seconds,
/// each with each failure as it comes; quiet, nothing (the summary lists
/// the failures).
struct Progress {
    bar: Option<ProgressBar>,
    ticker: tokio::task::JoinHandle<()>,
    state: Arc<Mutex<ProgressState>>,
}

/// What the ticker reads, and what it has shown so far.
struct ProgressState {
    tally: Arc<Mutex<Tally>>,
    total: Option<u64>,
    started: Instant,
    failures_shown: usize,
    /// The service's counts: completions as they are recorded (the runner
    /// hears of them a batch at a time).
    summary: watch::Receiver<Summary<ZkVmBackend>>,
    completed_at_start: u64,
    backend: ZkVmBackend,
}

impl ProgressState {
    /// Checkpoints done, the progress text (rate, ETA), and the failures
    /// not shown yet.
    fn read(&mut self) -> (u64, String, Vec<String>) {
        let tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let counts = self.summary.borrow()[self.backend];
        let proved = counts
            .get(Status::Completed)
            .saturating_sub(self.completed_at_start)
            .max(tally.proved);
        let mut done = tally.resumed + proved + tally.failed;
        if let Some(total) = self.total {
            // Tasks queued by an earlier run beyond this range are proved too.
            done = done.min(total);
        }
        let secs = self.started.elapsed().as_secs_f64();
        let per_second = proved as f64 / secs.max(1e-9);
        let eta = match self.total {
            Some(total) if per_second > 0.0 => format!(
                ", ETA {}",
                human_secs(total.saturating_sub(done) as f64 / per_second)
            ),
            Some(_) => ", ETA unknown".to_string(),
            None => String::new(),
        };
        let text = format!(
            "{} proving, {} failed, {}{eta}",
            counts.get(Status::Proving),
            tally.failed,
            rate(proved, secs)
        );
        let new_failures = tally.failures[self.failures_shown..]
            .iter()
            .map(|f| format!("checkpoint {f}"))
            .collect();
        self.failures_shown = tally.failures.len();
        (done, text, new_failures)
    }
}

fn human_secs(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

impl Progress {
    fn start(
        mode: ProgressMode,
        tally: Arc<Mutex<Tally>>,
        total: Option<u64>,
        summary: watch::Receiver<Summary<ZkVmBackend>>,
        backend: ZkVmBackend,
    ) -> Self {
        let completed_at_start = summary.borrow()[backend].get(Status::Completed);
        let state = Arc::new(Mutex::new(ProgressState {
            tally,
            total,
            started: Instant::now(),
            failures_shown: 0,
            summary,
            completed_at_start,
            backend,
        }));
        let bar = matches!(mode, ProgressMode::Bars).then(|| {
            let (bar, template) = match total {
                Some(n) => (
                    ProgressBar::new(n),
                    "{prefix:>8} [{bar:40}] {pos}/{len} {msg}",
                ),
                None => (
                    ProgressBar::no_length(),
                    "{prefix:>8} {spinner} {pos} done, {msg}",
                ),
            };
            bar.set_draw_target(ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(backend.name());
            bar
        });
        let every = match mode {
            ProgressMode::Bars => Duration::from_millis(200),
            ProgressMode::Lines(every) => every,
            ProgressMode::Quiet => Duration::from_millis(500),
        };
        let ticker = {
            let (state, bar) = (state.clone(), bar.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let (done, text, failures) =
                        state.lock().unwrap_or_else(|e| e.into_inner()).read();
                    if !matches!(mode, ProgressMode::Quiet) {
                        for line in failures {
                            match &bar {
                                Some(bar) => bar.println(line),
                                None => println!("{line}"),
                            }
                        }
                    }
                    match (&bar, mode, total) {
                        (Some(bar), _, _) => {
                            bar.set_position(done);
                            bar.set_message(text);
                        }
                        (None, ProgressMode::Lines(_), Some(total)) => println!(
                            "progress: {done}/{total} checkpoints ({:.0}%), {text}",
                            done as f64 * 100.0 / total.max(1) as f64
                        ),
                        (None, ProgressMode::Lines(_), None) => {
                            println!("progress: {done} checkpoints done, {text}")
                        }
                        _ => {}
                    }
                }
            })
        };
        Self { bar, ticker, state }
    }

    fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    /// Stops the ticker and draws the final position (the summary lists
    /// every failure).
    fn finish(&self) {
        self.ticker.abort();
        let (done, text, _) = self.state.lock().unwrap_or_else(|e| e.into_inner()).read();
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(text);
            bar.finish();
        }
    }
}
