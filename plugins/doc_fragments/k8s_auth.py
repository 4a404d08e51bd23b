# -*- coding: utf-8 -*-
# Copyright: Contributors to the vyogotech.frappe collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection options shared by the Kubernetes modules of this collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig itself as a dictionary.
      - Several paths may be joined with the path separator, as in E(KUBECONFIG).
      - When neither O(kubeconfig), O(context) nor O(host) is given, the file named by
        E(KUBECONFIG) or C(~/.kube/config) is used if it exists, otherwise the
        service account of the pod the module runs in (in-cluster configuration).
      - Inside the Ansible Operator SDK E(K8S_AUTH_KUBECONFIG) names the kubeconfig of the
        operator's API proxy, so requests go through that proxy.
      - Can also be given with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use instead of the current one.
      - Can also be given with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example V(https://10.0.0.1:6443).
        V(https://) is assumed when no scheme is given.
      - Without O(kubeconfig) and O(context) only the connection options of the task are
        used (O(api_key), O(username)/O(password), O(client_cert)/O(client_key), or none at
        all for an authenticating proxy such as C(kubectl proxy)).
      - With O(kubeconfig) or O(context) it overrides the server of the kubeconfig.
      - Can also be given with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token used to authenticate with the API server.
      - Can also be given with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  username:
    description:
      - User name for HTTP basic authentication (only API servers that still accept it).
      - Needs O(password).
      - Can also be given with the E(K8S_AUTH_USERNAME) environment variable.
    type: str
  password:
    description:
      - Password for HTTP basic authentication.
      - Needs O(username).
      - Can also be given with the E(K8S_AUTH_PASSWORD) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - When not given the kubeconfig's setting applies (verification on by default).
      - Can also be given with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [ verify_ssl ]
  ca_cert:
    description:
      - Path to a CA certificate (PEM) to verify the API server with.
      - Can also be given with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ ssl_ca_cert ]
  client_cert:
    description:
      - Path to a client certificate (PEM) to authenticate with.
      - The file may also hold the private key; otherwise give O(client_key).
      - Can also be given with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [ cert_file ]
  client_key:
    description:
      - Path to the private key (PEM) of O(client_cert).
      - Can also be given with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [ key_file ]
  proxy:
    description:
      - URL of an HTTP(S) or SOCKS proxy to reach the API server through.
      - Can also be given with the E(K8S_AUTH_PROXY) environment variable.
    type: str
  impersonate_user:
    description:
      - User name to impersonate (the account needs C(impersonate) on users).
      - Can also be given with the E(K8S_AUTH_IMPERSONATE_USER) environment variable.
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate (the account needs C(impersonate) on groups).
      - Can also be given with the E(K8S_AUTH_IMPERSONATE_GROUPS) environment variable,
        as a comma-separated list.
    type: list
    elements: str
requirements:
  - kubernetes (the Python client library)
notes:
  - Environment variables are read like the kubernetes.core modules read them, so a play
    that works with M(kubernetes.core.k8s) connects the same way with these modules.
  - Requests give up after 20 seconds without a connection and 120 seconds without an answer.
'''
