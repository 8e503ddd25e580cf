package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blang/semver"
	"github.com/go-sql-driver/mysql"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// mariaDB is a throwaway server started by startMariaDB.
type mariaDB struct {
	endpoint string // 127.0.0.1:port
	rootPW   string
	admin    *sql.DB // root connection for assertions
}

func lookBinary(names ...string) string {
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				return filepath.Join(dir, n)
			}
		}
	}
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMariaDB initialises a data directory in a temp dir, runs mariadbd on a
// free loopback port as a child process, sets a root password and registers
// cleanup (server stopped, directory removed). Skips if MariaDB is missing.
func startMariaDB(t *testing.T) *mariaDB {
	t.Helper()
	server := lookBinary("mariadbd", "mysqld")
	install := lookBinary("mariadb-install-db", "mysql_install_db")
	if server == "" || install == "" {
		t.Skip("MariaDB server binaries (mariadbd, mariadb-install-db) not found; install Debian's mariadb-server to run these tests")
	}
	dir := t.TempDir()
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	var userArg []string
	if os.Geteuid() == 0 {
		userArg = []string{"--user=root"} // mariadbd refuses to run as root otherwise
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, install, append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, userArg...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out.String())
	}

	port := freePort(t)
	errLog := filepath.Join(dir, "err.log")
	srv := exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + sock,
		fmt.Sprintf("--port=%d", port), "--bind-address=127.0.0.1", "--pid-file=" + filepath.Join(dir, "pid"),
		"--log-error=" + errLog, "--skip-log-bin", "--innodb-buffer-pool-size=16M"}, userArg...)...)
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := srv.Start(); err != nil {
		t.Fatalf("starting mariadbd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
	})
	logTail := func() string {
		b, _ := os.ReadFile(errLog)
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		return string(b)
	}

	// Wait for the socket, as root without password (fresh install).
	sockCfg := mysql.NewConfig()
	sockCfg.Net, sockCfg.Addr, sockCfg.User = "unix", sock, "root"
	sockCfg.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(sockCfg)
	if err != nil {
		t.Fatal(err)
	}
	local := sql.OpenDB(conn)
	defer local.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err = local.Ping(); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("mariadbd exited early: %s", logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd did not come up in 60s: %v\n%s", err, logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}

	m := &mariaDB{endpoint: fmt.Sprintf("127.0.0.1:%d", port), rootPW: "r00t-'pw\\" + randomHex(6)}
	rows, err := local.Query("SELECT Host FROM mysql.user WHERE User = 'root'")
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for rows.Next() {
		var h string
		_ = rows.Scan(&h)
		hosts = append(hosts, h)
	}
	rows.Close()
	q := strings.NewReplacer(`\`, `\\`, `'`, `\'`) // fresh server: default sql_mode
	for _, h := range hosts {
		if _, err := local.Exec("ALTER USER 'root'@'" + q.Replace(h) + "' IDENTIFIED BY '" + q.Replace(m.rootPW) + "'"); err != nil {
			t.Fatalf("setting root password: %v", err)
		}
	}
	m.admin = openDB(t, m.endpoint, "root", m.rootPW)
	if err := m.admin.Ping(); err != nil {
		t.Fatalf("root login over TCP: %v", err)
	}
	t.Cleanup(func() { m.admin.Close() })
	return m
}

// openDB opens a lazy connection pool (no ping) for assertions.
func openDB(t *testing.T, endpoint, user, pw string) *sql.DB {
	t.Helper()
	c := mysql.NewConfig()
	c.Net, c.Addr, c.User, c.Passwd = "tcp", endpoint, user, pw
	c.Timeout = 5 * time.Second
	c.Logger = &mysql.NopLogger{}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	return sql.OpenDB(conn)
}

// canLogin reports whether user/pw can authenticate over TCP, and the error.
func canLogin(t *testing.T, endpoint, user, pw string) (bool, error) {
	db := openDB(t, endpoint, user, pw)
	defer db.Close()
	err := db.Ping()
	return err == nil, err
}

// newServer returns an integration server for the provider configured with
// the given endpoint and credentials.
func newServer(t *testing.T, endpoint, user, pw string) integration.Server {
	t.Helper()
	prov, err := newProvider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(context.Background(), "mysql", semver.MustParse("0.0.1"), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]property.Value{"endpoint": property.New(endpoint)}
	if user != "" {
		args["username"] = property.New(user)
	}
	if pw != "" {
		args["password"] = property.New(pw).WithSecret(true)
	}
	if err := s.Configure(p.ConfigureRequest{Args: property.NewMap(args)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func urn(typ, name string) presource.URN {
	return presource.URN("urn:pulumi:test::mail-system::" + typ + "::" + name)
}

// props builds a property map from plain Go values.
func props(kv map[string]any) property.Map {
	m := map[string]property.Value{}
	for k, v := range kv {
		switch v := v.(type) {
		case string:
			m[k] = property.New(v)
		case bool:
			m[k] = property.New(v)
		case []string:
			arr := make([]property.Value, len(v))
			for i, s := range v {
				arr[i] = property.New(s)
			}
			m[k] = property.New(arr)
		case property.Value:
			m[k] = v
		default:
			panic(fmt.Sprintf("unsupported %T", v))
		}
	}
	return property.NewMap(m)
}

// check runs Check and fails the test on errors or validation failures.
func check(t *testing.T, s integration.Server, u presource.URN, inputs, old property.Map) property.Map {
	t.Helper()
	resp, err := s.Check(p.CheckRequest{Urn: u, Inputs: inputs, State: old})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("check failures: %+v", resp.Failures)
	}
	return resp.Inputs
}

func str(m property.Map, key string) string {
	v := m.Get(key)
	if !v.IsString() {
		return ""
	}
	return v.AsString()
}

// proxyAfter emulates a server that is slow to come up on addr: connections
// are refused for refuse, then accepted and dropped (like docker-proxy before
// the container listens) for drop, then forwarded to target.
func proxyAfter(t *testing.T, addr, target string, refuse, drop time.Duration) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-time.After(refuse):
		case <-done:
			return
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("proxy listen: %v", err)
			return
		}
		go func() { <-done; l.Close() }()
		forwardFrom := time.Now().Add(drop)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if time.Now().Before(forwardFrom) {
				c.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { <-done; c.Close(); up.Close() }()
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
}

func mustSemver(s string) semver.Version { return semver.MustParse(s) }

func sameProps(a, b property.Map) bool { return property.New(a).Equals(property.New(b)) }
