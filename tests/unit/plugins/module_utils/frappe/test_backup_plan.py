"""backup_plan: a SiteBackup in one shape, whether written for the Go operator or with our fields."""

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.backup_plan import backup_spec, bench_backup_args
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.names import backup_names, backups_volume_name


def backup(**spec):
    return {"metadata": {"name": "nightly", "namespace": "shop"}, "spec": dict({"site": "erp"}, **spec)}


def test_the_go_operators_fields_become_bench_backups_options_in_its_order():
    spec, errors = backup_spec(backup(withFiles=True, compress=True, verbose=True, exclude=["Error Log", "Version"],
                                      backupPathDB="/tmp/x/db.sql.gz"), "erp.example.com")
    assert errors == []
    assert spec["args"] == ["--backup-path", "/tmp/backup-set", "--with-files", "--compress", "--verbose",
                            "--backup-path-db", "/tmp/x/db.sql.gz", "--exclude", "Error Log,Version"]
    assert bench_backup_args({"backupPath": "sites/backups"}, "/scratch")[:2] == ["--backup-path", "sites/backups"]


def test_by_default_a_set_goes_to_a_backups_volume_of_the_site_unencrypted_and_every_set_is_kept():
    spec, errors = backup_spec(backup(), "erp.example.com")
    assert errors == [] and spec["schedule"] == "" and spec["deletionPolicy"] == "Retain"
    assert spec["storage"] == {"type": "pvc", "claim": backups_volume_name("erp.example.com")}
    assert spec["retention"] == {} and spec["encryption"]["enabled"] is False


def test_s3_in_the_go_operators_spelling_reads_as_the_mariadb_operators_and_is_encrypted_by_default():
    ref = {"name": "s3-creds", "key": "access"}
    go = backup(storage={"type": "s3", "s3": {"bucket": "backups", "endpoint": "https://minio:9000",
                                              "accessKeySecret": ref, "secretKeySecret": dict(ref, key="secret"),
                                              "useSSL": True}}, retention={"keepDaily": 7, "keepLast": 0})
    spec, errors = backup_spec(go, "erp")
    assert errors == []
    assert spec["storage"]["s3"] == {"bucket": "backups", "endpoint": "https://minio:9000",
                                     "accessKeyIdSecretKeyRef": ref,
                                     "secretAccessKeySecretKeyRef": dict(ref, key="secret"), "tls": {"enabled": True}}
    assert spec["retention"] == {"keepDaily": 7, "keepLast": 0}
    assert spec["encryption"] == {"enabled": True, "generated": True,
                                  "secret": {"name": backup_names("nightly")["key_secret"], "key": "passphrase"}}


def test_what_the_schema_cannot_refuse_is_refused_with_the_field_and_the_fix():
    _spec, errors = backup_spec(backup(include=["Note"], exclude=["Version"],
                                       storage={"type": "s3", "s3": {"bucket": "backups"}}), "erp")
    assert any("spec.include and spec.exclude" in e for e in errors)
    assert any("spec.storage.s3.accessKeyIdSecretKeyRef is missing" in e for e in errors)
    assert any("spec.storage.s3.secretAccessKeySecretKeyRef is missing" in e for e in errors)
