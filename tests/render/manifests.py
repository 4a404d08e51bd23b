"""The FrappeBench manifests the render-mode tests start from."""


def bench(name="erp", **spec):
    """A bench erp-ns/<name> on a pinned frappe/erpnext image, with `spec` merged over it."""
    body = {"frappeVersion": "version-15", "imageConfig": {"repository": "docker.io/frappe/erpnext", "tag": "v15.45.0"}}
    body.update(spec)
    return {"apiVersion": "vyogo.tech/v1alpha1", "kind": "FrappeBench",
            "metadata": {"name": name, "namespace": "erp-ns"}, "spec": body}
