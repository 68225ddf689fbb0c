namespace SmartMaintenance.Streams.Storage;

/// <summary>Tables of the operator API (docs/api.md): keys, audit log, acknowledgements, silences, sensor registry,
/// alert revisions and instance metadata for live-state queries.</summary>
public static partial class Schema
{
    public const string ApiKeysTable = "api_keys";
    public const string AuditTable = "api_audit";
    public const string AlertAcksTable = "alert_acks";
    public const string AlertRevisionsTable = "alert_revisions";
    public const string SilencesTable = "alert_silences";
    public const string SensorRegistryTable = "sensor_registry";
    public const string InstancesTable = "api_instances";

    private static List<string> OperatorApiTables() =>
    [
        // Only a hash of the secret is kept; the key id is the lookup handle (smk_<id>_<secret>).
        $"""
        CREATE TABLE IF NOT EXISTS {ApiKeysTable} (
            key_id      text PRIMARY KEY,
            name        text        NOT NULL,
            role        text        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            secret_hash bytea       NOT NULL,
            rate_limit  int,
            created_at  timestamptz NOT NULL DEFAULT now(),
            revoked_at  timestamptz
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {AuditTable} (
            id       bigserial PRIMARY KEY,
            at       timestamptz NOT NULL DEFAULT now(),
            actor    text        NOT NULL,
            role     text        NOT NULL,
            action   text        NOT NULL,
            target   text        NOT NULL,
            detail   jsonb,
            remote   text
        )
        """,
        $"CREATE INDEX IF NOT EXISTS {AuditTable}_at_idx ON {AuditTable} (at DESC)",
        $"""
        CREATE TABLE IF NOT EXISTS {AlertAcksTable} (
            alert_id text        NOT NULL,
            at       timestamptz NOT NULL DEFAULT now(),
            actor    text        NOT NULL,
            action   text        NOT NULL CHECK (action IN ('acknowledge', 'resolve')),
            note     text,
            revision int         NOT NULL,
            PRIMARY KEY (alert_id, at, actor)
        )
        """,
        // Every state of every alert, kept by the database itself: the engine's upsert stays as it is.
        $"""
        CREATE TABLE IF NOT EXISTS {AlertRevisionsTable} (
            alert_id    text             NOT NULL,
            revision    int              NOT NULL,
            status      text             NOT NULL,
            severity    smallint         NOT NULL,
            score       double precision,
            value       double precision,
            last_seen   timestamptz,
            recorded_at timestamptz      NOT NULL DEFAULT now(),
            PRIMARY KEY (alert_id, revision, status)
        )
        """,
        $"""
        CREATE OR REPLACE FUNCTION {AlertRevisionsTable}_record() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {AlertRevisionsTable} (alert_id, revision, status, severity, score, value, last_seen)
            VALUES (NEW.alert_id, NEW.revision, NEW.status, NEW.severity, NEW.score, NEW.value, NEW.last_seen)
            ON CONFLICT (alert_id, revision, status) DO UPDATE SET
                severity = excluded.severity, score = excluded.score, value = excluded.value, last_seen = excluded.last_seen;
            RETURN NEW;
        END $$
        """,
        $"DROP TRIGGER IF EXISTS alerts_revisions_trg ON alerts",
        $"CREATE TRIGGER alerts_revisions_trg AFTER INSERT OR UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION {AlertRevisionsTable}_record()",
        // Matchers are exact values or prefixes ending in '*'; null matches anything.
        $"""
        CREATE TABLE IF NOT EXISTS {SilencesTable} (
            silence_id  text PRIMARY KEY,
            asset_id    text,
            sensor_id   text,
            sensor_type text,
            detector    text,
            starts_at   timestamptz NOT NULL,
            ends_at     timestamptz NOT NULL,
            reason      text        NOT NULL,
            created_by  text        NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            expired_at  timestamptz,
            CHECK (ends_at > starts_at)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS {SensorRegistryTable} (
            sensor_id   text PRIMARY KEY,
            asset_id    text,
            sensor_type text,
            unit        text,
            range_min   double precision,
            range_max   double precision,
            description text,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            updated_by  text        NOT NULL,
            CHECK (range_min IS NULL OR range_max IS NULL OR range_min <= range_max)
        )
        """,
        $"CREATE INDEX IF NOT EXISTS {SensorRegistryTable}_asset_idx ON {SensorRegistryTable} (asset_id, sensor_id)",
        // Which engine instance serves which partitions of the readings topic, refreshed by each instance (heartbeat).
        $"""
        CREATE TABLE IF NOT EXISTS {InstancesTable} (
            instance_id   text PRIMARY KEY,
            base_url      text        NOT NULL,
            topic         text        NOT NULL,
            partitions    int[]       NOT NULL,
            partition_count int       NOT NULL,
            rebalancing   boolean     NOT NULL,
            updated_at    timestamptz NOT NULL DEFAULT now()
        )
        """,
    ];
}
