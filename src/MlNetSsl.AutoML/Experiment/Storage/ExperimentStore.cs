using System.Data;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace MlNetSsl.AutoML;

/// <summary>Where a trial segment stands in the store.</summary>
internal enum SegmentState
{
    /// <summary>Waiting for a worker (a promoted trial's next rung, or a segment whose worker was presumed dead).</summary>
    Queued,

    /// <summary>Held by a worker under a lease it keeps alive with heartbeats.</summary>
    Running,

    /// <summary>Its outcome is in the event log.</summary>
    Done,
}

/// <summary>One trial's current segment as the store holds it.</summary>
internal sealed record StoredSegment(int TrialId, int? PreviousFidelity, int? Fidelity, SegmentState State, string? Lease, string? Worker, int Attempts);

/// <summary>One entry of the shared event log; <see cref="Sequence"/> is the commit order every worker replays.</summary>
internal sealed record StoredEvent(long Sequence, JournalEvent Event);

/// <summary>
/// The shared store of a distributed experiment (Optuna's RDBStorage pattern): one SQL database holding, per experiment
/// name, its fingerprint, an append-only event log (the journal's events in commit order) and one lease row per trial.
/// Every decision (which trial starts with which configuration, promotions, re-queues) is taken inside
/// <see cref="InTransactionAsync{T}"/>, which holds the experiment's lock (SQLite: the database's write lock taken by
/// <c>BEGIN IMMEDIATE</c>; PostgreSQL: a row lock on the experiment), so workers see one serial history. Times are the
/// database's clock, so workers on hosts with skewed clocks agree on which lease expired. A connection is opened per
/// operation and transient failures (a restarted PostgreSQL server, a busy SQLite file) are retried, which is how a worker
/// reconnects.
/// </summary>
internal sealed class ExperimentStore
{
    private const int FormatVersion = 1;
    private const int TransientAttempts = 40;

    private readonly string _connectionString;
    private readonly bool _postgres;
    private readonly string _experiment;

    private ExperimentStore(string connectionString, bool postgres, string experiment)
    {
        _connectionString = connectionString;
        _postgres = postgres;
        _experiment = experiment;
    }

    /// <summary>The experiment's name in the store.</summary>
    public string Experiment => _experiment;

    /// <summary>A description of the store without credentials, for messages.</summary>
    public string Description { get; private init; } = "";

    /// <summary>Whether <paramref name="connectionString"/> names a PostgreSQL server (<c>Host=</c>) rather than a SQLite file
    /// (<c>Data Source=</c>).</summary>
    /// <exception cref="ArgumentException">Neither form.</exception>
    public static bool IsPostgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new DbConnectionStringBuilder();
        try
        {
            builder.ConnectionString = connectionString;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"The storage connection string is malformed ({e.Message}). Use \"Host=server;Database=db;Username=user;Password=...\" " +
                "for PostgreSQL or \"Data Source=experiments.db\" for SQLite.", nameof(connectionString), e);
        }
        if (builder.ContainsKey("Host") || builder.ContainsKey("Server")) return true;
        if (builder.ContainsKey("Data Source") || builder.ContainsKey("DataSource") || builder.ContainsKey("Filename"))
        {
            var sqlite = new SqliteConnectionStringBuilder(connectionString);
            if (sqlite.Mode == SqliteOpenMode.Memory || sqlite.DataSource.Trim() is "" or ":memory:")
                throw new ArgumentException("A shared search needs a SQLite file that every process opens (Data Source=search.db), not an in-memory database.",
                    nameof(connectionString));
            return false;
        }
        throw new ArgumentException("The storage connection string names neither a PostgreSQL server (Host=...) nor a SQLite file (Data Source=...).",
            nameof(connectionString));
    }

    /// <summary>Connects, creates the tables if needed and registers the experiment; refuses one registered with another
    /// fingerprint (other search space, tuner, scheduler, seed, direction or data).</summary>
    public static async Task<ExperimentStore> OpenAsync(string connectionString, string experiment, ExperimentFingerprint fingerprint,
        CancellationToken cancellationToken)
    {
        bool postgres = IsPostgres(connectionString);
        string effective = connectionString;
        string description;
        if (postgres)
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            description = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(connectionString);
            // Writers wait for each other's lock instead of failing at once; the transient retry covers longer waits.
            if (builder.DefaultTimeout < 30) builder.DefaultTimeout = 30;
            effective = builder.ToString();
            description = $"SQLite {builder.DataSource}";
            string? folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (folder is not null) Directory.CreateDirectory(folder);
        }
        var store = new ExperimentStore(effective, postgres, experiment) { Description = description };
        string fingerprintJson = System.Text.Json.JsonSerializer.Serialize(fingerprint);
        string stored = await store.WithRetryAsync(async () =>
        {
            await using DbConnection connection = await store.ConnectAsync(cancellationToken).ConfigureAwait(false);
            await using DbTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await store.CreateTablesAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await store.ExecuteAsync(connection, transaction,
                $"INSERT INTO mlnetssl_experiments (name, format, fingerprint, created_ms) VALUES (@name, {FormatVersion}, @fingerprint, {store.NowMs}) ON CONFLICT (name) DO NOTHING",
                cancellationToken, ("name", experiment), ("fingerprint", fingerprintJson)).ConfigureAwait(false);
            using DbCommand select = store.Command(connection, transaction, "SELECT fingerprint FROM mlnetssl_experiments WHERE name = @name", ("name", experiment));
            string result = (string)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }, cancellationToken).ConfigureAwait(false);
        if (stored != fingerprintJson)
        {
            ExperimentFingerprint? other = System.Text.Json.JsonSerializer.Deserialize<ExperimentFingerprint>(stored);
            string differences = other is null ? "unreadable fingerprint" : string.Join("; ", fingerprint.Differences(other));
            throw new InvalidOperationException(
                $"The experiment '{experiment}' in {description} belongs to a different search (differs in: {differences}). " +
                "Use another experiment name (SetExperimentName), or the same settings to join it.");
        }
        return store;
    }

    /// <summary>An experiment's whole event log with the worker that wrote each event, without joining it (for audits and tests).</summary>
    public static async Task<List<(StoredEvent Event, string? Worker)>> ReadLogAsync(string connectionString, string experiment, CancellationToken cancellationToken)
    {
        var store = new ExperimentStore(connectionString, IsPostgres(connectionString), experiment) { Description = "the store" };
        return await store.WithRetryAsync(async () =>
        {
            await using DbConnection connection = await store.ConnectAsync(cancellationToken).ConfigureAwait(false);
            // An empty log, not an error, before any worker created the tables.
            await using DbTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await store.CreateTablesAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            using DbCommand command = store.Command(connection, transaction,
                "SELECT seq, worker, payload FROM mlnetssl_events WHERE experiment = @experiment ORDER BY seq", ("experiment", experiment));
            var log = new List<(StoredEvent, string?)>();
            await using (DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    log.Add((new StoredEvent(reader.GetInt64(0), ExperimentJournal.Deserialize(reader.GetString(2))!), reader.IsDBNull(1) ? null : reader.GetString(1)));
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return log;
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task CreateTablesAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        // Two workers creating the tables at once would collide in PostgreSQL's catalog; one does it under a lock.
        if (_postgres) await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(7231917)", cancellationToken).ConfigureAwait(false);
        foreach (string ddl in Schema())
            await ExecuteAsync(connection, transaction, ddl, cancellationToken).ConfigureAwait(false);
    }

    private IEnumerable<string> Schema()
    {
        string sequence = _postgres ? "BIGINT" : "INTEGER";
        yield return "CREATE TABLE IF NOT EXISTS mlnetssl_experiments (name TEXT PRIMARY KEY, format INTEGER NOT NULL, fingerprint TEXT NOT NULL, created_ms BIGINT NOT NULL)";
        yield return $"CREATE TABLE IF NOT EXISTS mlnetssl_events (experiment TEXT NOT NULL, seq {sequence} NOT NULL, type TEXT NOT NULL, trial_id INTEGER NOT NULL, " +
            "worker TEXT NULL, payload TEXT NOT NULL, PRIMARY KEY (experiment, seq))";
        yield return "CREATE TABLE IF NOT EXISTS mlnetssl_segments (experiment TEXT NOT NULL, trial_id INTEGER NOT NULL, previous_fidelity INTEGER NULL, " +
            "fidelity INTEGER NULL, state TEXT NOT NULL, lease TEXT NULL, worker TEXT NULL, heartbeat_ms BIGINT NOT NULL, attempts INTEGER NOT NULL, " +
            "PRIMARY KEY (experiment, trial_id))";
    }

    /// <summary>The database clock in milliseconds since 1970, as SQL.</summary>
    private string NowMs => _postgres
        ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

    /// <summary>Runs <paramref name="body"/> holding the experiment's lock, and commits. Transient failures roll back and
    /// run it again from the start, so the body must derive everything it writes from what it reads inside.</summary>
    public Task<T> InTransactionAsync<T>(Func<StoreTransaction, Task<T>> body, CancellationToken cancellationToken) =>
        WithRetryAsync(async () =>
        {
            await using DbConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            // SQLite: BEGIN IMMEDIATE, the write lock at once (Microsoft.Data.Sqlite's default for a non-deferred transaction).
            // PostgreSQL: read committed is enough, the row lock below serializes the writers (and serializable would add retries).
            await using DbTransaction transaction = await connection.BeginTransactionAsync(
                _postgres ? IsolationLevel.ReadCommitted : IsolationLevel.Serializable, cancellationToken).ConfigureAwait(false);
            if (_postgres)
                await ExecuteAsync(connection, transaction, "SELECT 1 FROM mlnetssl_experiments WHERE name = @name FOR UPDATE", cancellationToken,
                    ("name", _experiment)).ConfigureAwait(false);
            T result = await body(new StoreTransaction(this, connection, transaction)).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }, cancellationToken);

    /// <summary>Renews a lease: true while <paramref name="lease"/> still holds the trial's running segment and its last
    /// heartbeat is within <paramref name="grace"/>. A lease that lapsed is never renewed, even if no worker re-queued it yet,
    /// so a worker that was stopped (SIGSTOP, a long pause) and resumes learns it lost its trial.</summary>
    public Task<bool> HeartbeatAsync(int trialId, string lease, TimeSpan grace, CancellationToken cancellationToken) =>
        WithRetryAsync(async () =>
        {
            await using DbConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            int rows = await ExecuteAsync(connection, null,
                $"UPDATE mlnetssl_segments SET heartbeat_ms = {NowMs} WHERE experiment = @experiment AND trial_id = @trial AND lease = @lease " +
                $"AND state = 'running' AND heartbeat_ms >= {NowMs} - @grace",
                cancellationToken, ("experiment", _experiment), ("trial", trialId), ("lease", lease), ("grace", (long)grace.TotalMilliseconds)).ConfigureAwait(false);
            return rows == 1;
        }, cancellationToken);

    private async Task<DbConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = _postgres ? new NpgsqlConnection(_connectionString) : new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (!_postgres)
            {
                // WAL lets readers (heartbeats wait only for the write lock) proceed beside a writer; set per database, kept in the file.
                using DbCommand wal = connection.CreateCommand();
                wal.CommandText = "PRAGMA journal_mode=WAL";
                await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<T> WithRetryAsync<T>(Func<Task<T>> operation, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await operation().ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < TransientAttempts && IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                // A restarted server leaves broken connections in the pool; drop them so the retry connects afresh.
                if (_postgres) NpgsqlConnection.ClearAllPools();
                System.Diagnostics.Trace.TraceWarning($"MlNetSsl.AutoML: {Description} unavailable ({e.Message}); retrying (attempt {attempt}).");
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * attempt)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static bool IsTransient(Exception e) => e switch
    {
        NpgsqlException { IsTransient: true } => true,
        PostgresException postgres => postgres.SqlState is "40001" or "40P01" or "57P01" or "57P02" or "57P03" or "08000" or "08003" or "08006",
        NpgsqlException { InnerException: IOException or System.Net.Sockets.SocketException } => true,
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6, // SQLITE_BUSY, SQLITE_LOCKED
        _ => false,
    };

    internal DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            DbParameter parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    internal async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        using DbCommand command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The operations available while the experiment's lock is held.</summary>
    internal sealed class StoreTransaction
    {
        private readonly ExperimentStore _store;
        private readonly DbConnection _connection;
        private readonly DbTransaction _transaction;

        public StoreTransaction(ExperimentStore store, DbConnection connection, DbTransaction transaction)
        {
            _store = store;
            _connection = connection;
            _transaction = transaction;
        }

        private string Experiment => _store._experiment;

        /// <summary>The events after <paramref name="afterSequence"/>, in commit order.</summary>
        public async Task<List<StoredEvent>> ReadEventsAsync(long afterSequence, CancellationToken cancellationToken)
        {
            using DbCommand command = _store.Command(_connection, _transaction,
                "SELECT seq, payload FROM mlnetssl_events WHERE experiment = @experiment AND seq > @after ORDER BY seq",
                ("experiment", Experiment), ("after", afterSequence));
            var events = new List<StoredEvent>();
            await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                long sequence = reader.GetInt64(0);
                JournalEvent journalEvent = ExperimentJournal.Deserialize(reader.GetString(1))
                    ?? throw new InvalidDataException($"Event {sequence} of experiment '{Experiment}' in {_store.Description} is empty.");
                events.Add(new StoredEvent(sequence, journalEvent));
            }
            return events;
        }

        /// <summary>Appends an event at the end of the log and returns its sequence number.</summary>
        public async Task<long> AppendAsync(JournalEvent journalEvent, string worker, CancellationToken cancellationToken)
        {
            using DbCommand max = _store.Command(_connection, _transaction,
                "SELECT COALESCE(MAX(seq), 0) FROM mlnetssl_events WHERE experiment = @experiment", ("experiment", Experiment));
            long sequence = Convert.ToInt64(await max.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) + 1;
            await _store.ExecuteAsync(_connection, _transaction,
                "INSERT INTO mlnetssl_events (experiment, seq, type, trial_id, worker, payload) VALUES (@experiment, @seq, @type, @trial, @worker, @payload)",
                cancellationToken, ("experiment", Experiment), ("seq", sequence), ("type", journalEvent.Type.ToString()), ("trial", journalEvent.TrialId),
                ("worker", worker), ("payload", ExperimentJournal.Serialize(journalEvent))).ConfigureAwait(false);
            return sequence;
        }

        /// <summary>Every segment that is not done.</summary>
        public async Task<List<StoredSegment>> ActiveSegmentsAsync(CancellationToken cancellationToken)
        {
            using DbCommand command = _store.Command(_connection, _transaction,
                "SELECT trial_id, previous_fidelity, fidelity, state, lease, worker, attempts FROM mlnetssl_segments " +
                "WHERE experiment = @experiment AND state <> 'done' ORDER BY trial_id", ("experiment", Experiment));
            var segments = new List<StoredSegment>();
            await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                segments.Add(new StoredSegment(
                    Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture),
                    reader.IsDBNull(1) ? null : Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture),
                    reader.IsDBNull(2) ? null : Convert.ToInt32(reader.GetValue(2), CultureInfo.InvariantCulture),
                    reader.GetString(3) == "running" ? SegmentState.Running : SegmentState.Queued,
                    reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5),
                    Convert.ToInt32(reader.GetValue(6), CultureInfo.InvariantCulture)));
            }
            return segments;
        }

        /// <summary>The running segments whose last heartbeat is older than <paramref name="grace"/>: their workers are presumed dead.</summary>
        public async Task<List<int>> LapsedTrialsAsync(TimeSpan grace, CancellationToken cancellationToken)
        {
            using DbCommand command = _store.Command(_connection, _transaction,
                $"SELECT trial_id FROM mlnetssl_segments WHERE experiment = @experiment AND state = 'running' AND heartbeat_ms < {_store.NowMs} - @grace ORDER BY trial_id",
                ("experiment", Experiment), ("grace", (long)grace.TotalMilliseconds));
            var trials = new List<int>();
            await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) trials.Add(Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture));
            return trials;
        }

        /// <summary>Sets a trial's segment: a new one (queued, or running under <paramref name="lease"/>), replacing the previous.</summary>
        public Task<int> PutSegmentAsync(int trialId, int? previousFidelity, int? fidelity, SegmentState state, string? lease, string? worker, int attempts,
            CancellationToken cancellationToken) =>
            _store.ExecuteAsync(_connection, _transaction,
                "INSERT INTO mlnetssl_segments (experiment, trial_id, previous_fidelity, fidelity, state, lease, worker, heartbeat_ms, attempts) " +
                $"VALUES (@experiment, @trial, @previous, @fidelity, @state, @lease, @worker, {_store.NowMs}, @attempts) " +
                "ON CONFLICT (experiment, trial_id) DO UPDATE SET previous_fidelity = excluded.previous_fidelity, fidelity = excluded.fidelity, " +
                "state = excluded.state, lease = excluded.lease, worker = excluded.worker, heartbeat_ms = excluded.heartbeat_ms, attempts = excluded.attempts",
                cancellationToken, ("experiment", Experiment), ("trial", trialId), ("previous", previousFidelity), ("fidelity", fidelity),
                ("state", StateName(state)), ("lease", lease), ("worker", worker), ("attempts", attempts));

        /// <summary>Marks the segment held by <paramref name="lease"/> as <paramref name="state"/>; false when the lease no longer
        /// holds it (re-queued, or lapsed past <paramref name="grace"/> when that is given). <paramref name="returnAttempt"/>
        /// gives back the attempt the claim counted (a worker that paused the segment did not die running it).</summary>
        public async Task<bool> ReleaseAsync(int trialId, string lease, SegmentState state, TimeSpan? grace, CancellationToken cancellationToken,
            bool returnAttempt = false)
        {
            string fresh = grace is null ? "" : $" AND heartbeat_ms >= {_store.NowMs} - @grace";
            string attempts = returnAttempt ? ", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END" : "";
            int rows = await _store.ExecuteAsync(_connection, _transaction,
                $"UPDATE mlnetssl_segments SET state = @state, lease = NULL{attempts} WHERE experiment = @experiment AND trial_id = @trial AND lease = @lease AND state = 'running'{fresh}",
                cancellationToken, ("experiment", Experiment), ("trial", trialId), ("lease", lease), ("state", StateName(state)),
                ("grace", (long)(grace ?? TimeSpan.Zero).TotalMilliseconds)).ConfigureAwait(false);
            return rows == 1;
        }

        private static string StateName(SegmentState state) => state switch
        {
            SegmentState.Queued => "queued",
            SegmentState.Running => "running",
            _ => "done",
        };
    }
}
