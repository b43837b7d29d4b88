"""A real WordPress site for tests: Debian's packages, run privately in a temporary folder.

:class:`WordPressSite` starts its own ``mariadbd`` (a unix socket in the folder,
``--skip-networking``, so the system MariaDB on 3306 is never touched) and its own Apache
(``apache2 -f <folder>/httpd.conf`` on ``127.0.0.1:<port from the OS>``, mod_php, the standard
WordPress rewrite block plus ``E=HTTP_AUTHORIZATION``; an Apache that apt started on port 80 does
not matter). Debian's ``wp-config.php`` loads ``/etc/wordpress/config-<name>.php`` named by
``SetEnv WORDPRESS_CONFIG``; that one file is written for the site and removed with it. The site
is installed by posting the install form, and an Application Password is made by a PHP CLI script
calling ``WP_Application_Passwords::create_new_application_password()``.
``WP_ENVIRONMENT_TYPE=local`` lets Application Passwords work over plain HTTP.

A must-use plugin injects faults, each claimed once by renaming its file in ``<folder>/faults``
(atomic: exactly one request takes it):

* ``sleep_before_insert`` (seconds) -- ``rest_pre_insert_post`` sleeps, then the post is inserted
  (a PHP request that outlives the client: mod_php does not stop it);
* ``notice_after_insert`` -- ``rest_after_insert_post`` prints a PHP notice before the JSON of
  the ``201`` (what ``display_errors=On`` does on shared hosts).

A second port serves the same site with Debian's shipped ``.htaccess`` (every rewrite rule
commented out): there ``/wp-json/`` is an HTML 404 (``plain_url``).

Nothing is left running: :meth:`stop` ends both servers (by their own pids) and removes the
folder and the config file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Debian packages the site needs (what .ci/run installs when one is missing).
PACKAGES = (
    "wordpress",
    "mariadb-server",
    "apache2",
    "libapache2-mod-php",
    "php-mysql",
    "php-gd",
    "php-xml",
    "php-mbstring",
    "php-curl",
    "php-intl",
    "php-zip",
)
WP_ROOT = Path("/usr/share/wordpress")
CONFIG_DIR = Path("/etc/wordpress")
APACHE_MODULES = Path("/usr/lib/apache2/modules")
_PHP_MODULE = next(iter(sorted(APACHE_MODULES.glob("libphp*.so"))), APACHE_MODULES / "libphp.so")
_BINARIES = {
    "mariadbd": Path("/usr/sbin/mariadbd"),
    "mariadb-install-db": Path("/usr/bin/mariadb-install-db"),
    "mariadb": Path("/usr/bin/mariadb"),
    "apache2": Path("/usr/sbin/apache2"),
    "php": Path("/usr/bin/php"),
    "mod_php": _PHP_MODULE,
    "wordpress": WP_ROOT / "wp-config.php",
}
ADMIN_USER = "siteadmin"
ADMIN_PASSWORD = "Admin-pass-9f3k2"

_MU_PLUGIN = r"""<?php
/* mediagate test faults: each fault file is claimed once by renaming it. */
function mediagate_fault_take($name) {
    $dir = getenv('MEDIAGATE_FAULTS');
    if (!$dir && isset($_SERVER['MEDIAGATE_FAULTS'])) { $dir = $_SERVER['MEDIAGATE_FAULTS']; }
    if (!$dir) { return null; }
    $file = $dir . '/' . $name;
    $taken = $file . '.' . getmypid() . '.taken';
    if (!@rename($file, $taken)) { return null; }
    $value = trim((string) file_get_contents($taken));
    @unlink($taken);
    return $value;
}
add_filter('rest_pre_insert_post', function ($prepared, $request) {
    $seconds = mediagate_fault_take('sleep_before_insert');
    if ($seconds !== null) { sleep((int) $seconds); }
    return $prepared;
}, 10, 2);
add_action('rest_after_insert_post', function ($post, $request, $creating) {
    if ($creating && mediagate_fault_take('notice_after_insert') !== null) {
        echo "<br />\n<b>Notice</b>:  Undefined index: layout in "
            . "<b>/usr/share/wordpress/wp-content/themes/legacy/functions.php</b> on line "
            . "<b>42</b><br />\n";
    }
}, 10, 3);
"""

_CREATE_APP_PASSWORD = r"""<?php
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$_SERVER['HTTP_HOST'] = getenv('SITE_HOST');
require '/usr/share/wordpress/wp-load.php';
update_option('permalink_structure', '/%postname%/');
$out = array();
foreach (json_decode(getenv('SITE_USERS'), true) as $login => $role) {
    $id = username_exists($login);
    if (!$id) {
        $id = wp_insert_user(array('user_login' => $login, 'user_pass' => wp_generate_password(20),
            'user_email' => $login . '@example.com', 'role' => $role));
    }
    list($password, $item) = WP_Application_Passwords::create_new_application_password(
        $id, array('name' => 'mediagate'));
    $out[$login] = array('id' => $id, 'password' => $password, 'role' => $role);
}
echo json_encode($out);
"""


def missing() -> list[str]:
    """What is missing on this machine to run a real WordPress (empty when all is there)."""
    gone = [name for name, path in _BINARIES.items() if not path.exists()]
    if not gone and not os.access(CONFIG_DIR, os.W_OK):
        gone.append(f"write access to {CONFIG_DIR} (Debian's wp-config.php reads it)")
    return gone


class _PortTaken(Exception):
    """Apache could not bind a port chosen a moment earlier."""


def _unescape(value: str) -> str:
    """A value of ``mariadb --batch`` output (``\\n``, ``\\t``, ``\\\\`` escaped)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m[1], m[1]), value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(what: str, ready: Any, timeout_s: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} not ready after {timeout_s} s\n{tail}")


@dataclass
class WordPressSite:
    """One private WordPress (see the module docstring); use :meth:`start` / :meth:`stop`."""

    users: dict[str, str] = field(
        default_factory=lambda: {"author": "author", "contributor": "contributor"}
    )
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mediagate-wp-")))
    name: str = field(default_factory=lambda: "mgtest-" + secrets.token_hex(6))
    port: int = 0
    plain_port: int = 0
    passwords: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def plain_url(self) -> str:
        """The same site behind Debian's shipped .htaccess (no rewrite rules)."""
        return f"http://127.0.0.1:{self.plain_port}"

    @property
    def socket(self) -> Path:
        return self.folder / "run" / "mysqld.sock"

    @property
    def faults(self) -> Path:
        return self.folder / "faults"

    @property
    def config_file(self) -> Path:
        return CONFIG_DIR / f"config-{self.name}.php"

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> WordPressSite:
        try:
            self._layout()
            self._start_mariadb()
            for attempt in range(3):
                self._write_wp_config()
                try:
                    self._start_apache()
                    break
                except _PortTaken:
                    if attempt == 2:
                        raise
            self._install()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)
        self._procs.clear()
        with contextlib.suppress(FileNotFoundError):
            self.config_file.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _as_service(self, path: Path, user: str) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, user, user)

    def _layout(self) -> None:
        self.folder.chmod(0o755)
        for sub in ("db", "run", "logs", "faults", "wp-content", "wp-content/mu-plugins"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("db", "run"):
            self._as_service(self.folder / sub, "mysql")
        (self.faults).chmod(0o777)
        (self.folder / "wp-content" / "uploads").mkdir()
        (self.folder / "wp-content" / "mu-plugins" / "mediagate-faults.php").write_text(_MU_PLUGIN)
        for sub in ("wp-content", "wp-content/uploads"):
            self._as_service(self.folder / sub, "www-data")

    def _start_mariadb(self) -> None:
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                str(_BINARIES["mariadb-install-db"]),
                "--no-defaults",
                *user,
                f"--datadir={self.folder / 'db'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        log = self.folder / "logs" / "mariadb.log"
        with log.open("ab") as out:
            self._procs.append(
                subprocess.Popen(
                    [
                        str(_BINARIES["mariadbd"]),
                        "--no-defaults",
                        *user,
                        f"--datadir={self.folder / 'db'}",
                        f"--socket={self.socket}",
                        f"--pid-file={self.folder / 'run' / 'mysqld.pid'}",
                        "--skip-networking",
                        "--skip-log-bin",
                        "--innodb-buffer-pool-size=32M",
                        "--innodb-flush-log-at-trx-commit=0",
                        "--skip-innodb-doublewrite",
                        f"--log-error={log}",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Apache signals its whole process group
                )
            )
        _wait("mariadbd", self._db_ping, 60, log)
        self.sql("CREATE DATABASE wordpress CHARACTER SET utf8mb4")

    def _db_ping(self) -> bool:
        if self._procs[-1].poll() is not None:
            raise RuntimeError("mariadbd exited")
        if not self.socket.exists():
            return False
        done = subprocess.run(
            [
                str(_BINARIES["mariadb"]),
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                "-e",
                "SELECT 1",
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return done.returncode == 0

    def sql(self, query: str, database: str = "") -> list[dict[str, str]]:
        """Run SQL on the site's private MariaDB; rows as dicts of text."""
        done = subprocess.run(
            [
                str(_BINARIES["mariadb"]),
                "--no-defaults",
                f"--socket={self.socket}",
                "-uroot",
                "--default-character-set=utf8mb4",
                "--batch",
                *([database] if database else []),
                "-e",
                query,
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        lines = done.stdout.decode().splitlines()
        if not lines:
            return []
        header = lines[0].split("\t")
        return [
            dict(zip(header, (_unescape(v) for v in line.split("\t")), strict=False))
            for line in lines[1:]
        ]

    def posts(self, where: str = "post_type = 'post'") -> list[dict[str, str]]:
        """Rows of ``wp_posts`` (id, status, title, parent, content ...)."""
        return self.sql(
            "SELECT ID, post_status, post_title, post_parent, post_type, post_name, guid, "
            f"post_mime_type, post_content FROM wp_posts WHERE {where} ORDER BY ID",
            "wordpress",
        )

    def _write_wp_config(self) -> None:
        self.port, self.plain_port = _free_port(), _free_port()
        settings = {
            "DB_NAME": "wordpress",
            "DB_USER": "root",
            "DB_PASSWORD": "",
            "DB_HOST": f"localhost:{self.socket}",
            "DB_CHARSET": "utf8mb4",
            "DB_COLLATE": "",
            "WP_CONTENT_DIR": str(self.folder / "wp-content"),
            "WP_CONTENT_URL": f"{self.url}/wp-content",
            "WP_ENVIRONMENT_TYPE": "local",
            "DISABLE_WP_CRON": True,
            "AUTOMATIC_UPDATER_DISABLED": True,
            "WP_HTTP_BLOCK_EXTERNAL": True,
            "FS_METHOD": "direct",
        }
        lines = ["<?php"]
        for key, value in settings.items():
            lines.append(f"define({json.dumps(key)}, {json.dumps(value)});")
        for key in ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE"):
            for kind in ("KEY", "SALT"):
                lines.append(f'define("{key}_{kind}", "{secrets.token_hex(24)}");')
        self.config_file.write_text("\n".join(lines) + "\n")
        self.config_file.chmod(0o644)

    def _apache_conf(self) -> str:
        modules = ["mpm_prefork", "authz_core", "dir", "mime", "rewrite", "alias", "env",
                   "setenvif"]  # fmt: skip
        loads = [f"LoadModule {m}_module {APACHE_MODULES / f'mod_{m}.so'}" for m in modules]
        loads.append(f"LoadModule php_module {_PHP_MODULE}")
        run_as = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
        content = self.folder / "wp-content"
        return "\n".join(
            [
                *loads,
                f'ServerRoot "{self.folder}"',
                "ServerName 127.0.0.1",
                f"Listen 127.0.0.1:{self.port}",
                f"Listen 127.0.0.1:{self.plain_port}",
                f"PidFile {self.folder / 'run' / 'apache.pid'}",
                f"Mutex file:{self.folder / 'run'}",
                f"ErrorLog {self.folder / 'logs' / 'apache-error.log'}",
                'LogFormat "%h %t \\"%r\\" %>s %D" timed',
                f"CustomLog {self.folder / 'logs' / 'apache-access.log'} timed",
                run_as,
                "StartServers 3\nMinSpareServers 2\nMaxSpareServers 6\nMaxRequestWorkers 10",
                "Timeout 30",
                "TypesConfig /etc/mime.types",
                "DirectoryIndex index.php",
                f"DocumentRoot {WP_ROOT}",
                f"SetEnv WORDPRESS_CONFIG {self.name}",
                f"SetEnv MEDIAGATE_FAULTS {self.faults}",
                '<FilesMatch "\\.php$">\n  SetHandler application/x-httpd-php\n</FilesMatch>',
                f"Alias /wp-content {content}",
                f"<Directory {content}>\n  Require all granted\n  AllowOverride None\n</Directory>",
                f"<VirtualHost 127.0.0.1:{self.port}>",
                f"  <Directory {WP_ROOT}>",
                "    Require all granted",
                "    AllowOverride None",
                "    RewriteEngine On",
                "    RewriteBase /",
                "    RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]",
                "    RewriteRule ^index\\.php$ - [L]",
                "    RewriteCond %{REQUEST_FILENAME} !-f",
                "    RewriteCond %{REQUEST_FILENAME} !-d",
                "    RewriteRule . /index.php [L]",
                "  </Directory>",
                "</VirtualHost>",
                f"<VirtualHost 127.0.0.1:{self.plain_port}>",
                f"  <Directory {WP_ROOT}>",
                "    Require all granted",
                "    AllowOverride All",  # Debian's .htaccess: every rewrite rule commented out
                "  </Directory>",
                "</VirtualHost>",
                "",
            ]
        )

    def _start_apache(self) -> None:
        conf = self.folder / "httpd.conf"
        conf.write_text(self._apache_conf())
        log = self.folder / "logs" / "apache-error.log"
        with (self.folder / "logs" / "apache-stdout.log").open("ab") as out:
            self._procs.append(
                subprocess.Popen(
                    [str(_BINARIES["apache2"]), "-f", str(conf), "-DFOREGROUND"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Apache signals its whole process group
                    env={"PATH": os.environ["PATH"]},
                )
            )

        def up() -> bool:
            if self._procs[-1].poll() is not None:
                self._procs.pop().wait()
                logs = [self.folder / "logs" / "apache-stdout.log", log]
                text = "".join(p.read_text(errors="replace") for p in logs if p.exists())
                for path in logs:
                    path.unlink(missing_ok=True)
                if "Address already in use" in text:
                    raise _PortTaken()  # another process took a port between choice and bind
                raise RuntimeError(f"apache2 exited: {text[-3000:]}")
            try:  # Apache's own answer (a static file), not just any listener on the port
                with urllib.request.urlopen(f"{self.url}/readme.html", timeout=2) as resp:
                    return resp.status == 200 and b"WordPress" in resp.read()
            except (OSError, ValueError):
                return False

        _wait("apache2", up, 30, log)

    def _install(self) -> None:
        form = urllib.parse.urlencode(
            {
                "weblog_title": "Mediagate test site",
                "user_name": ADMIN_USER,
                "admin_password": ADMIN_PASSWORD,
                "admin_password2": ADMIN_PASSWORD,
                "pw_weak": "1",
                "admin_email": "admin@example.com",
                "blog_public": "0",
                "language": "",
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.url}/wp-admin/install.php?step=2", data=form, method="POST"
        )
        with urllib.request.urlopen(request, timeout=120) as resp:
            page = resp.read().decode(errors="replace")
        if "wp-login.php" not in page:
            raise RuntimeError(f"WordPress install failed: {page[-1500:]}")
        script = self.folder / "app-passwords.php"
        script.write_text(_CREATE_APP_PASSWORD)
        done = subprocess.run(
            [str(_BINARIES["php"]), str(script)],
            capture_output=True,
            timeout=60,
            check=True,
            env={
                "PATH": os.environ["PATH"],
                "WORDPRESS_CONFIG": self.name,
                "SITE_HOST": f"127.0.0.1:{self.port}",
                "SITE_USERS": json.dumps({ADMIN_USER: "administrator", **self.users}),
            },
        )
        created = json.loads(done.stdout.decode().strip().splitlines()[-1])
        for login, info in created.items():
            self.passwords[login] = info["password"]
            self.user_ids[login] = int(info["id"])
        # files created by the CLI script (as root) must stay writable for Apache
        self._as_service(self.folder / "wp-content", "www-data")
        for path in (self.folder / "wp-content").rglob("*"):
            self._as_service(path, "www-data")

    # -- helpers for tests -----------------------------------------------------------------

    def fault(self, name: str, value: str = "1") -> None:
        """Arm a one-shot fault of the must-use plugin (see the module docstring)."""
        path = self.faults / name
        path.write_text(value)
        path.chmod(0o666)

    def armed(self, name: str) -> bool:
        return (self.faults / name).exists()

    def auth(self, user: str, password: str | None = None) -> str:
        secret = self.passwords[user] if password is None else password
        return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        password: str | None = None,
        body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        base: str | None = None,
    ) -> tuple[int, str, Any]:
        """A plain HTTP call to the site: (status, content type, JSON body or the text)."""
        all_headers = dict(headers or {})
        if user is not None:
            all_headers["Authorization"] = self.auth(user, password)
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            (base or self.url) + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, ctype, raw = resp.status, resp.headers.get_content_type(), resp.read()
        except urllib.error.HTTPError as err:
            with err:
                status, ctype, raw = err.code, err.headers.get_content_type(), err.read()
        text = raw.decode(errors="replace")
        try:
            return status, ctype, json.loads(text)
        except ValueError:
            return status, ctype, text


__all__ = ["ADMIN_USER", "PACKAGES", "WordPressSite", "missing"]
