//! `stratus start`: build the store and services, serve, shut down cleanly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use stratus_core::{Registry, RegistryHandle};
use stratus_server::{AuthMode, Credentials, Server, ServerConfig};
use stratus_store::{MemoryStore, SqliteStore, Store};

use crate::cli::{AuthArg, StartArgs, StoreKind};

pub fn run(args: StartArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, started))
}

async fn serve(args: StartArgs, started: Instant) -> anyhow::Result<()> {
    stratus_http_out::set_ca_bundle(args.ca_bundle.clone());
    let (store, store_desc): (Arc<dyn Store>, String) = match args.store {
        StoreKind::Memory => (Arc::new(MemoryStore), "memory".to_string()),
        StoreKind::Sqlite => {
            let store = SqliteStore::open(&args.data_dir)
                .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
            (
                Arc::new(store),
                format!("sqlite:{}", args.data_dir.display()),
            )
        }
    };
    // Services that call other services get this handle; it is bound once the
    // registry is complete.
    let handle = RegistryHandle::default();
    let mut registry = Registry::new();
    registry.register(
        "sqs",
        stratus_sqs::SqsService::new(store.clone()).context("loading SQS state")?,
    );
    registry.register(
        "sts",
        stratus_sts::StsService::new().context("loading the STS model")?,
    );
    registry.register(
        "events",
        stratus_events::EventsService::new(store.clone(), handle.clone())
            .context("loading EventBridge state")?,
    );
    registry.register(
        "sns",
        stratus_sns::SnsService::new(store.clone(), handle.clone()).context("loading SNS state")?,
    );
    let lambda_config = match args.store {
        StoreKind::Memory => stratus_lambda::LambdaConfig::new(
            std::env::temp_dir().join(format!("stratus-lambda-{}", std::process::id())),
            true,
        ),
        StoreKind::Sqlite => stratus_lambda::LambdaConfig::new(
            stratus_lambda::LambdaConfig::dir_in(&args.data_dir),
            false,
        ),
    };
    let lambda = stratus_lambda::LambdaService::new(store.clone(), handle.clone(), lambda_config)
        .context("loading Lambda state")?;
    registry.register("lambda", lambda.clone());
    registry.register(
        "scheduler",
        stratus_scheduler::SchedulerService::new(store.clone(), handle.clone())
            .context("loading EventBridge Scheduler state")?,
    );
    registry.register(
        "logs",
        stratus_logs::LogsService::new(store.clone()).context("loading CloudWatch Logs state")?,
    );
    // (service registrations: add new services above this line)
    let registry = Arc::new(registry);
    handle.set(registry.clone());

    let auth = match args.auth {
        AuthArg::Accept => AuthMode::Accept,
        AuthArg::Verify => AuthMode::Verify,
    };
    let credentials = Credentials(
        args.credentials
            .iter()
            .filter_map(|c| c.split_once(':'))
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect::<HashMap<_, _>>(),
    );
    if auth == AuthMode::Accept {
        tracing::info!("auth: accepting any credentials (use --auth verify to check signatures)");
    }
    let config = ServerConfig {
        host: args.host.clone(),
        port: args.port,
        auth,
        credentials,
        store: store_desc.clone(),
    };
    let server = Server::bind(config, registry, started)
        .await
        .with_context(|| format!("binding {}:{}", args.host, args.port))?;
    let addr = server.local_addr()?;
    lambda.set_endpoint(format!("http://{addr}"));
    // The one ready line: scripts wait for it and read the endpoint from it.
    println!(
        "Stratus {} ready on http://{addr} (store: {store_desc}, started in {:.1} ms)",
        env!("CARGO_PKG_VERSION"),
        started.elapsed().as_secs_f64() * 1000.0
    );
    server.run(shutdown_signal()).await;
    store.close();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
