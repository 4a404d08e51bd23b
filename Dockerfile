# The operator image: ansible-operator (the SDK release the tests run,
# hack/localcluster/versions.env) with this collection installed from its
# built tarball, as a user installs it, and watches.yaml.
#   docker build -t <registry>/frappe-operator:<tag> .
# then point config/manager at it (docs/INSTALL.md).
FROM quay.io/operator-framework/ansible-operator:v1.42.2

# The collections this one needs (kubernetes.core).
COPY requirements.yml ${HOME}/requirements.yml
RUN ansible-galaxy collection install -r ${HOME}/requirements.yml \
 && chmod -R ug+rwx ${HOME}/.ansible

# The collection itself, from the tarball ansible-galaxy builds (galaxy.yml's
# build_ignore keeps the tests and harness out of it).
COPY --chown=${USER_UID}:0 . /tmp/vyogotech-frappe
RUN ansible-galaxy collection build /tmp/vyogotech-frappe --output-path /tmp/build \
 && ansible-galaxy collection install /tmp/build/vyogotech-frappe-*.tar.gz \
 && rm -rf /tmp/vyogotech-frappe /tmp/build \
 && chmod -R ug+rwx ${HOME}/.ansible

# FrappeBench -> vyogotech.frappe.frappe_bench.
COPY watches.yaml ${HOME}/watches.yaml
