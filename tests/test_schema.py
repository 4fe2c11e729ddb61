"""The metadata schema across releases: sqlx's migrator records what it applied, a database
migrated by a newer berth is refused at start, and a database built by an earlier release (its
own `berth_migrations` record) is adopted without losing anything."""

import pytest

from ecr import ecr_client

# A migration this binary does not have, as a newer release would have recorded it.
FUTURE = ("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) "
          "VALUES (9999, 'from a later release', TRUE, {blob}, 0)")


def test_a_database_migrated_by_a_newer_berth_is_refused(server):
    server.create_repo("kept")
    server.stop()
    blob = "'\\x00'::bytea" if server.metadata else "X'00'"
    server.sql(FUTURE.format(blob=blob))
    with pytest.raises(RuntimeError):
        server.start()
    log = server.server_log()
    assert "migrated by a newer berth" in log and "9999" in log, log[-2000:]
    # Nothing was changed: removing the future record lets this binary start on the same data.
    server.sql("DELETE FROM _sqlx_migrations WHERE version = 9999")
    server.start()
    names = [r["repositoryName"] for r in ecr_client(server).describe_repositories()["repositories"]]
    assert names == ["kept"]


def test_a_database_from_the_previous_release_is_adopted(server):
    server.create_repo("before-upgrade")
    server.stop()
    # What releases up to 0.1.x left: the schema of migrations 1 to 4 (so this one's fifth
    # is undone), their own record of them, and no sqlx table.
    for statement in ["DROP INDEX jobs_due", "DROP TABLE schedules",
                      *[f"ALTER TABLE jobs DROP COLUMN {c}"
                        for c in ("state", "locked_by", "last_error", "created_at")],
                      "DROP TABLE _sqlx_migrations"]:
        server.sql(statement)
    server.sql("CREATE TABLE berth_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
    server.sql("INSERT INTO berth_migrations (version, applied_at) VALUES (1, 0), (2, 0), (3, 0), (4, 0)")
    server.start()
    assert "adopted the schema record" in server.server_log()
    names = [r["repositoryName"] for r in ecr_client(server).describe_repositories()["repositories"]]
    assert names == ["before-upgrade"]
    server.create_repo("after-upgrade")
    # A second start finds sqlx's record in order and changes nothing.
    server.restart()
    names = {r["repositoryName"] for r in ecr_client(server).describe_repositories()["repositories"]}
    assert names == {"before-upgrade", "after-upgrade"}
