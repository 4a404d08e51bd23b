"""Stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test creates each sanity-test virtual environment without pip and
bootstraps pip with a get-pip.py script it downloads from its own CI file
host, caching it as ~/.ansible/test/cache/get_pip_<version>.py. That host is
not reachable from every machine, while the package index is. hack/lint.sh
copies this file to that cache path (under a HOME of its own), so the
bootstrap installs pip from the bundled ensurepip wheel instead, then the
exact pip version ansible-test asked for from the package index.

ansible-test runs it as ``python get_pip_<version>.py [pip options] pip==X
[--no-setuptools] [--no-wheel]``, like the real script.
"""

import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    with_setuptools = '--no-setuptools' not in sys.argv[1:]
    with_wheel = '--no-wheel' not in sys.argv[1:]

    # ensurepip works offline; on Python < 3.12 it also installs setuptools. It
    # runs in a process of its own because it drops the PIP_* variables and the
    # pip configuration (which may name the CA bundle) from its environment.
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args)

    unwanted = [name for name, wanted in (('setuptools', with_setuptools), ('wheel', with_wheel)) if not wanted]
    if unwanted:
        # pip skips (with a warning on stderr) the ones that are not installed.
        subprocess.check_call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet'] + unwanted,
                              stderr=subprocess.DEVNULL)


if __name__ == '__main__':
    main()
