//! The one dedicated Postgres connection each replica holds (SPEC §6): the leader holds a
//! session-level advisory lock on it, and every replica listens on it for the channels the
//! replicas wake each other with. Postgres is the whole coordination engine: the lock belongs to
//! the session, so when the leader's connection drops (a crash, a partition, a stop) Postgres
//! releases it and another replica takes it at its next try.
//!
//! [`Coordination::start`] runs the connection in a task of its own: it connects (and
//! reconnects), listens, tries the lock every [`TRY_EVERY`] while it follows, and checks the
//! connection as often while it leads. Its [`Role`] is a `watch` value: whoever runs the
//! leader's work watches it and stops the moment it reads [`Role::Follower`]. Notifications
//! arrive on a `broadcast` channel, for every replica, leader or not; each time the connection
//! (re)starts listening, every channel hears one with an empty payload: notifications may have
//! been missed, and what they stand for is to be read from Postgres. [`Replica`] is what the
//! rest of the process follows of all this.
//!
//! A leader that goes silent (its host vanished, its path dropped without a FIN or RST, also
//! behind a proxy or NAT that keeps the TCP connection itself alive) loses the lead within
//! [`SILENT_FOR`] and a few seconds: its heartbeat every [`TRY_EVERY`] keeps the session busy,
//! and the session sets `idle_session_timeout`, so Postgres ends a session that stopped
//! speaking and frees the lock; TCP keepalives and `tcp_user_timeout`, on both ends, catch a
//! path that dropped. A heartbeat that does not come back within [`STATEMENT_TIMEOUT`] makes
//! the leader step down at once, before Postgres frees the lock for another.
//!
//! Fencing: taking the lead moves the leadership epoch in Postgres on (`leader.epoch`), and the
//! new [`Role::Leader`] carries it. Each write the leader makes checks it in its own
//! transaction ([`Fence::check`]), holding the leader row shared until it commits, so a new
//! leader's epoch waits for it and every write after it is refused: a replica that lost the
//! lead without noticing changes nothing, and a refused check makes it step down at once
//! ([`Replica::step_down`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, broadcast, watch};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Client, Socket};

use super::tls::{self, KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES, TCP_USER_TIMEOUT};
use crate::clock::Clock;

/// The leader's lock; any number will do as long as only milepost uses it (and it is not the
/// migrations' lock).
pub const LEADER_LOCK: i64 = 0x6d69_6c65_706f_7374 + 1;
/// How often a follower tries the lock, and a leader checks its connection: a follower takes
/// over within this of Postgres noticing the old leader gone.
pub const TRY_EVERY: Duration = Duration::from_secs(1);
/// A statement on the dedicated connection that takes longer than this means the connection
/// is gone (a half-open TCP connection never errors by itself).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long Postgres keeps a coordination session that stopped speaking
/// (`idle_session_timeout`): every replica speaks on it every [`TRY_EVERY`].
pub const SILENT_FOR: Duration = Duration::from_secs(10);
/// How long taking the lead waits for the leader row (a leader's write holds it shared until
/// it commits): past it, the lock is let go and tried again.
const TAKE_LEAD_WAIT: Duration = Duration::from_secs(2);
/// Notifications a slow subscriber may fall behind by before it misses some (it then reads
/// the state from Postgres, which is what the notifications only hint at).
const NOTIFICATION_BACKLOG: usize = 256;

/// What this replica is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// `epoch`: the leadership epoch this replica took (see [`Fence`]).
    Leader {
        since: DateTime<Utc>,
        epoch: i64,
    },
}

impl Role {
    pub fn is_leader(&self) -> bool {
        matches!(self, Self::Leader { .. })
    }
}

/// A write refused because the epoch it was made under is no longer the leader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this replica's lead (epoch {epoch}) has ended: another replica leads (epoch {current})")]
pub struct Fenced {
    pub epoch: i64,
    pub current: i64,
}

/// The epoch a leader's writes are made under, from [`Replica::fence`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct Fence {
    epoch: i64,
    replica: Replica,
}

impl Fence {
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// Checks, inside the transaction `db`, that the epoch is still the leader's, and holds the
    /// leader row shared until the transaction ends: a new leader's epoch waits for it, and once
    /// that is committed every check fails. A failed check makes the replica step down at once
    /// and is a [`Fenced`] error.
    pub async fn check(&self, db: &impl GenericClient) -> anyhow::Result<()> {
        self.compare(db, "SELECT epoch FROM leader FOR SHARE").await
    }

    /// A look at the epoch without holding anything, before something outside Postgres (a
    /// Strava request): a stale leader starts at most the one already under way.
    pub async fn verify(&self, pool: &deadpool_postgres::Pool) -> anyhow::Result<()> {
        let db = pool.get().await?;
        self.compare(&db, "SELECT epoch FROM leader").await
    }

    async fn compare(&self, db: &impl GenericClient, query: &str) -> anyhow::Result<()> {
        let current: Option<i64> = db
            .query_opt(query, &[])
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let current = current.unwrap_or_default();
        if current == self.epoch {
            return Ok(());
        }
        self.replica.step_down(self.epoch);
        Err(Fenced {
            epoch: self.epoch,
            current,
        }
        .into())
    }
}

/// Whether `e` (or what it wraps) is a [`Fenced`] refusal.
pub fn is_fenced(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.is::<Fenced>())
}

/// A `NOTIFY` some replica sent on one of the channels listened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel: String,
    pub payload: String,
}

/// This replica's dedicated connection, running until [`Coordination::stop`] (or drop).
pub struct Coordination {
    id: std::sync::Arc<str>,
    role: watch::Receiver<Role>,
    role_tx: std::sync::Arc<watch::Sender<Role>>,
    fenced: std::sync::Arc<Notify>,
    notifications: broadcast::Sender<Notification>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Coordination {
    /// Connects to `url` in the background, listens on `channels` and competes for the lock.
    pub fn start(
        url: &SecretString,
        channels: &[&'static str],
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let target = tls::Target::parse(url.expose_secret())?;
        let tls = target.tls()?;
        let (role_tx, role) = watch::channel(Role::Follower);
        let role_tx = std::sync::Arc::new(role_tx);
        let fenced = std::sync::Arc::new(Notify::new());
        let (notifications, _) = broadcast::channel(NOTIFICATION_BACKLOG);
        let (stop, stopped) = watch::channel(false);
        let id: std::sync::Arc<str> = replica_id().into();
        let session = Session {
            id: id.clone(),
            config: target.config,
            channels: channels.to_vec(),
            role: role_tx.clone(),
            fenced: fenced.clone(),
            notifications: notifications.clone(),
            stopped,
            clock,
            unknown_settings: Vec::new(),
        };
        let task = match tls {
            Some(tls) => tokio::spawn(session.run(tls)),
            None => tokio::spawn(session.run(tokio_postgres::NoTls)),
        };
        Ok(Self {
            id,
            role,
            role_tx,
            fenced,
            notifications,
            stop,
            task,
        })
    }

    /// This replica as the rest of the process follows it.
    pub fn replica(&self) -> Replica {
        Replica {
            id: self.id.clone(),
            role: self.role.clone(),
            role_tx: self.role_tx.clone(),
            fenced: self.fenced.clone(),
            notifications: self.notifications.clone(),
        }
    }

    /// What this replica is now, and every change from here on.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// The notifications from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.notifications.subscribe()
    }

    /// Closes the connection, which releases the lock at once: a follower takes over at its
    /// next try instead of waiting for Postgres to notice a dead session.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for Coordination {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// This replica's connection as the rest of the process follows it: its name, its role and the
/// notifications. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Replica {
    id: std::sync::Arc<str>,
    role: watch::Receiver<Role>,
    role_tx: std::sync::Arc<watch::Sender<Role>>,
    /// Tells the session a write was fenced off: it drops the connection and follows.
    fenced: std::sync::Arc<Notify>,
    notifications: broadcast::Sender<Notification>,
}

/// What a subscriber heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Notification(Notification),
    /// It fell behind and missed some: whatever they stand for is to be read again.
    Missed,
}

impl Replica {
    /// `<host>-<pid>-<random>`: tells replicas apart in the admin view and the log.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// The epoch this replica's writes as leader are made under; `None` while it follows.
    pub fn fence(&self) -> Option<Fence> {
        match self.role() {
            Role::Leader { epoch, .. } => Some(Fence {
                epoch,
                replica: self.clone(),
            }),
            Role::Follower => None,
        }
    }

    /// A write under `epoch` was refused: if that is still this replica's lead, it ends now
    /// (the connection, and the lock if it still held it, go; it competes again as a
    /// follower).
    pub fn step_down(&self, epoch: i64) {
        let ended = self.role_tx.send_if_modified(|role| match role {
            Role::Leader { epoch: led, .. } if *led == epoch => {
                *role = Role::Follower;
                true
            }
            _ => false,
        });
        if ended {
            tracing::warn!(
                epoch,
                "no longer the leader: another replica took the lead (a write was fenced off)"
            );
            self.fenced.notify_one();
        }
    }

    /// The role now, then each change.
    pub fn roles(&self) -> impl futures::Stream<Item = Role> + 'static {
        futures::stream::unfold((self.role.clone(), true), |(mut role, first)| async move {
            if !first {
                role.changed().await.ok()?;
            }
            let now = *role.borrow_and_update();
            Some((now, (role, false)))
        })
    }

    /// The notifications on `channel` from now on (empty payloads included, see the module
    /// doc), and word of any missed.
    pub fn heard(&self, channel: &'static str) -> impl futures::Stream<Item = Heard> + 'static {
        let rx = self.notifications.subscribe();
        futures::stream::unfold(rx, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(n) if n.channel == channel => return Some((Heard::Notification(n), rx)),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Heard::Missed, rx));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}

/// `<host>-<pid>-<4 random hex digits>` (several replicas may run in one process in tests).
fn replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "milepost".to_owned());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// The task's state: what it connects to, what it listens to, where it says what it is.
struct Session {
    id: std::sync::Arc<str>,
    config: tokio_postgres::Config,
    channels: Vec<&'static str>,
    role: std::sync::Arc<watch::Sender<Role>>,
    fenced: std::sync::Arc<Notify>,
    notifications: broadcast::Sender<Notification>,
    stopped: watch::Receiver<bool>,
    clock: Clock,
    /// Settings this Postgres does not know, already warned about.
    unknown_settings: Vec<&'static str>,
}

/// What the coordination session sets on the server's end: Postgres ends it once it stops
/// speaking, and probes its TCP connection as the client does. `idle_session_timeout` needs
/// PostgreSQL 14, `tcp_user_timeout` 12: an older server goes on without them (and says so).
fn session_settings() -> [(&'static str, String); 6] {
    [
        (
            "idle_session_timeout",
            format!("{}ms", SILENT_FOR.as_millis()),
        ),
        ("tcp_keepalives_idle", KEEPALIVE_IDLE.as_secs().to_string()),
        (
            "tcp_keepalives_interval",
            KEEPALIVE_INTERVAL.as_secs().to_string(),
        ),
        ("tcp_keepalives_count", KEEPALIVE_PROBES.to_string()),
        ("tcp_user_timeout", TCP_USER_TIMEOUT.as_millis().to_string()),
        ("lock_timeout", format!("{}ms", TAKE_LEAD_WAIT.as_millis())),
    ]
}

/// Why one connection's life ended.
enum Ended {
    Stopped,
    Lost(String),
    /// A write was fenced off ([`Replica::step_down`], which said so): another replica leads.
    Fenced,
}

impl Session {
    async fn run<T>(mut self, tls: T)
    where
        T: MakeTlsConnect<Socket> + Clone + Send + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as tokio_postgres::tls::TlsConnect<Socket>>::Future: Send,
    {
        let mut failures = 0u32;
        loop {
            let ended = match self.config.connect(tls.clone()).await {
                Ok((client, connection)) => {
                    failures = 0;
                    let (lost_tx, lost) = tokio::sync::oneshot::channel();
                    let notifications = self.notifications.clone();
                    tokio::spawn(async move {
                        let mut connection = connection;
                        let mut messages =
                            futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                        let why = loop {
                            match messages.next().await {
                                Some(Ok(AsyncMessage::Notification(n))) => {
                                    // No subscriber is no one to tell.
                                    let _ = notifications.send(Notification {
                                        channel: n.channel().to_owned(),
                                        payload: n.payload().to_owned(),
                                    });
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => break crate::error::chain(&e),
                                None => break "closed by the server".to_owned(),
                            }
                        };
                        let _ = lost_tx.send(why);
                    });
                    self.hold(&client, lost).await
                }
                Err(e) => Ended::Lost(crate::error::chain(&e)),
            };
            if self.role.borrow().is_leader() {
                self.role.send_replace(Role::Follower);
                match &ended {
                    Ended::Stopped => tracing::info!("stopped leading: the lock is released"),
                    Ended::Lost(_) => {
                        tracing::warn!("no longer the leader: its Postgres connection ended")
                    }
                    Ended::Fenced => {}
                }
            }
            match ended {
                Ended::Stopped => return,
                Ended::Fenced => {}
                Ended::Lost(why) => {
                    failures += 1;
                    // Once, then quietly until it works again.
                    if failures == 1 {
                        tracing::warn!(error = %why, "the coordination connection to Postgres is down; retrying");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TRY_EVERY) => {}
                _ = self.stopped.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Listens, then tries the lock (or checks the connection, once leader) every
    /// [`TRY_EVERY`] until the connection ends or the session is stopped.
    async fn hold(
        &mut self,
        client: &Client,
        mut lost: tokio::sync::oneshot::Receiver<String>,
    ) -> Ended {
        if let Err(e) = self.configure(client).await {
            return Ended::Lost(e);
        }
        for channel in &self.channels {
            let listen = format!("LISTEN {}", quote(channel));
            if let Err(e) = checked(client.batch_execute(&listen)).await {
                return Ended::Lost(e);
            }
        }
        // Whatever was sent while this connection was not listening is lost: say so.
        for channel in &self.channels {
            let _ = self.notifications.send(Notification {
                channel: (*channel).to_owned(),
                payload: String::new(),
            });
        }
        loop {
            if self.role.borrow().is_leader() {
                if let Err(e) = checked(client.simple_query("SELECT 1")).await {
                    return Ended::Lost(e);
                }
            } else {
                let taken =
                    checked(client.query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK]))
                        .await
                        .and_then(|row| row.try_get::<_, bool>(0).map_err(|e| e.to_string()));
                match taken {
                    Ok(true) => {
                        let since = self.clock.now();
                        // The new epoch fences off the last leader's writes; the row also
                        // names the leader for the operators' view of every replica.
                        let epoch = checked(client.query_one(
                            "INSERT INTO leader (singleton, replica, since, epoch)
                             VALUES (TRUE, $1, $2, 1)
                             ON CONFLICT (singleton) DO UPDATE
                                SET replica = $1, since = $2, epoch = leader.epoch + 1
                             RETURNING epoch",
                            &[&&*self.id, &since],
                        ))
                        .await
                        .and_then(|row| row.try_get::<_, i64>(0).map_err(|e| e.to_string()));
                        match epoch {
                            Ok(epoch) => {
                                self.role.send_replace(Role::Leader { since, epoch });
                                tracing::info!(
                                    replica = %self.id,
                                    epoch,
                                    "this replica is the leader"
                                );
                            }
                            // (a write of the last leader still holds the row): the lock goes
                            // with the connection, and is tried again
                            Err(e) => return Ended::Lost(format!("could not take the lead: {e}")),
                        }
                    }
                    Ok(false) => {}
                    Err(e) => return Ended::Lost(e),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TRY_EVERY) => {}
                why = &mut lost => return Ended::Lost(why.unwrap_or_default()),
                _ = self.stopped.wait_for(|stop| *stop) => return Ended::Stopped,
                _ = self.fenced.notified() => return Ended::Fenced,
            }
        }
    }
}

impl Session {
    /// Applies [`session_settings`]; one the server does not know is warned about once.
    async fn configure(&mut self, client: &Client) -> Result<(), String> {
        for (name, value) in session_settings() {
            let set = format!("SET {name} = '{value}'");
            match tokio::time::timeout(STATEMENT_TIMEOUT, client.batch_execute(&set)).await {
                Ok(Ok(())) => {}
                Ok(Err(e))
                    if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_OBJECT) =>
                {
                    if !self.unknown_settings.contains(&name) {
                        self.unknown_settings.push(name);
                        tracing::warn!(
                            setting = name,
                            "this Postgres does not know the setting (too old); a silent leader \
                             may keep the lead longer"
                        );
                    }
                }
                Ok(Err(e)) => return Err(crate::error::chain(&e)),
                Err(_) => return Err("Postgres did not answer in time".to_owned()),
            }
        }
        Ok(())
    }
}

/// A statement on the dedicated connection, failing when it errors or hangs.
async fn checked<T>(
    statement: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, statement).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(crate::error::chain(&e)),
        Err(_) => Err("Postgres did not answer in time".to_owned()),
    }
}

/// A channel name as a quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
