//! A Redis Cluster of three masters on free loopback ports, started and
//! stopped by the test that needs it (no replicas: a killed master takes
//! its slots down until it returns).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Nodes are judged failed after this long without an answer.
const NODE_TIMEOUT_MS: u32 = 1000;

/// A running cluster; its processes die with it.
#[derive(Debug)]
pub struct RedisCluster {
    /// The masters' ports.
    pub ports: [u16; 3],
    dir: PathBuf,
    nodes: [Option<Child>; 3],
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `redis-server` and waits for its ready line.
async fn node(dir: &PathBuf, port: u16) -> Child {
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &format!("nodes-{port}.conf"),
            "--cluster-node-timeout",
            &NODE_TIMEOUT_MS.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server must be installed for this test (.ci/run installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut ready = false;
    for _ in 0..400 {
        match lines.next_line().await {
            Ok(Some(line)) if line.contains("Ready to accept connections") => {
                ready = true;
                break;
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    assert!(
        ready,
        "redis-server (cluster node) on port {port} did not become ready"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

async fn cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("redis-cli must be installed for this test (.ci/run installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl RedisCluster {
    /// Three masters sharing the 16,384 slots, the cluster state `ok` on each.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "rasp-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        let ports = [free_port(), free_port(), free_port()];
        let mut nodes = [None, None, None];
        for (slot, port) in nodes.iter_mut().zip(ports) {
            *slot = Some(node(&dir, port).await);
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let created = cli(&args).await;
        assert!(
            created.contains("[OK] All 16384 slots covered"),
            "cluster create: {created}"
        );
        let cluster = Self { ports, dir, nodes };
        cluster.wait_state("ok").await;
        cluster
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// Waits until every live node reports `cluster_state:<state>`
    /// (bounded: a few node timeouts).
    pub async fn wait_state(&self, state: &str) {
        let want = format!("cluster_state:{state}");
        for _ in 0..200 {
            let mut all = true;
            for (port, node) in self.ports.iter().zip(&self.nodes) {
                if node.is_some() {
                    let info = cli(&["-p", &port.to_string(), "cluster", "info"]).await;
                    all &= info.contains(&want);
                }
            }
            if all {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the cluster did not reach {want}");
    }

    /// Kills node `i` (its slots go down once the others notice).
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            child.kill().await.expect("kill a cluster node");
        }
    }

    /// Restarts node `i` with its cluster configuration (same id, same
    /// slots), and waits for the cluster to be `ok` again.
    pub async fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(node(&self.dir, self.ports[i]).await);
        self.wait_state("ok").await;
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().flatten() {
            let _ = node.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
