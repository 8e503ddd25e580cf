package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// ConnectTimeoutEnv bounds how long an operation waits for the server to accept
// connections (Go duration such as "90s", or whole seconds). Default 60s.
const ConnectTimeoutEnv = "PULUMI_MYSQL_CONNECT_TIMEOUT"

const defaultConnectTimeout = 60 * time.Second

// Config is the provider configuration (`mysql:endpoint`, ...), named as in the
// npm SDK. Empty values fall back to the environment variables the official
// provider reads (MYSQL_ENDPOINT, MYSQL_USERNAME, MYSQL_PASSWORD,
// MYSQL_TLS_CONFIG) at connect time, so they never end up in state.
//
// maxConnLifetimeSec and maxOpenConns exist in the SDK but are not declared
// here: unknown config keys are ignored, and this provider uses one short-lived
// connection per operation anyway.
type Config struct {
	Endpoint             string `pulumi:"endpoint,optional"`
	Username             string `pulumi:"username,optional"`
	Password             string `pulumi:"password,optional" provider:"secret"`
	TLS                  string `pulumi:"tls,optional"`
	AuthenticationPlugin string `pulumi:"authenticationPlugin,optional"`
	Proxy                string `pulumi:"proxy,optional"`
}

func (c *Config) Annotate(a infer.Annotator) {
	a.Describe(&c.Endpoint, "The address of the MySQL server as host:port. Defaults to $MYSQL_ENDPOINT or localhost:3306.")
	a.Describe(&c.Username, "The user to connect as. Defaults to $MYSQL_USERNAME.")
	a.Describe(&c.Password, "The password of that user. Defaults to $MYSQL_PASSWORD.")
	a.Describe(&c.TLS, `TLS mode: "false" (default, or $MYSQL_TLS_CONFIG), "true", "skip-verify" or "preferred".`)
	a.Describe(&c.AuthenticationPlugin, `"native" (default) or "cleartext".`)
	a.Describe(&c.Proxy, "Not supported by this provider; must be empty.")
}

// Configure validates the configuration once per provider process.
func (c *Config) Configure(ctx context.Context) error {
	_, err := c.settings()
	return err
}

// Diff makes every configuration change an in-place update (the default
// would replace the provider, and with it every database, user and grant it
// manages, e.g. when only the endpoint's port changes).
func (c *Config) Diff(ctx context.Context, req infer.DiffRequest[*Config, *Config]) (infer.DiffResponse, error) {
	o, n := req.State, req.Inputs
	if o == nil {
		o = &Config{}
	}
	if n == nil {
		n = &Config{}
	}
	diff := map[string]p.PropertyDiff{}
	for name, changed := range map[string]bool{
		"endpoint":             o.Endpoint != n.Endpoint,
		"username":             o.Username != n.Username,
		"password":             o.Password != n.Password,
		"tls":                  o.TLS != n.TLS,
		"authenticationPlugin": o.AuthenticationPlugin != n.AuthenticationPlugin,
		"proxy":                o.Proxy != n.Proxy,
	} {
		if changed {
			diff[name] = p.PropertyDiff{Kind: p.Update}
		}
	}
	return infer.DiffResponse{HasChanges: len(diff) > 0, DetailedDiff: diff}, nil
}

// connSettings is the effective configuration after applying env fallbacks.
type connSettings struct {
	endpoint, username, password, tls string
	cleartext                         bool
	timeout                           time.Duration
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (c *Config) settings() (connSettings, error) {
	s := connSettings{
		endpoint: firstNonEmpty(c.Endpoint, os.Getenv("MYSQL_ENDPOINT"), "localhost:3306"),
		username: firstNonEmpty(c.Username, os.Getenv("MYSQL_USERNAME")),
		password: firstNonEmpty(c.Password, os.Getenv("MYSQL_PASSWORD")),
		tls:      strings.ToLower(firstNonEmpty(c.TLS, os.Getenv("MYSQL_TLS_CONFIG"), "false")),
		timeout:  defaultConnectTimeout,
	}
	if c.Proxy != "" {
		// The npm SDK fills proxy from $ALL_PROXY for explicit providers.
		return s, fmt.Errorf("mysql: the proxy setting (%q, possibly from $ALL_PROXY) is not supported by this provider", c.Proxy)
	}
	switch s.tls {
	case "true", "false", "skip-verify", "preferred":
	default:
		return s, fmt.Errorf(`mysql: tls must be "true", "false", "skip-verify" or "preferred", got %q`, c.TLS)
	}
	switch strings.ToLower(c.AuthenticationPlugin) {
	case "", "native":
	case "cleartext":
		s.cleartext = true
	default:
		return s, fmt.Errorf(`mysql: authenticationPlugin must be "native" or "cleartext", got %q`, c.AuthenticationPlugin)
	}
	if v := os.Getenv(ConnectTimeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			n, nerr := strconv.Atoi(v)
			if nerr != nil {
				return s, fmt.Errorf("mysql: invalid %s=%q (want a duration like 90s)", ConnectTimeoutEnv, v)
			}
			d = time.Duration(n) * time.Second
		}
		s.timeout = d
	}
	return s, nil
}

// session is one short-lived connection to the server, opened per operation.
type session struct {
	db      *sql.DB
	mariaDB bool
	major   int // major server version (10 for MariaDB 10.11, 8 for MySQL 8.0)
	// noBackslashEscapes mirrors the server's sql_mode: it changes how string
	// literals must be escaped.
	noBackslashEscapes bool
}

// connect opens a session using the provider configuration in ctx, retrying
// connection-level failures (server still starting, port published but not
// yet forwarded, ...) for the configured timeout with backoff.
func connect(ctx context.Context) (*session, error) {
	cfg := infer.GetConfig[Config](ctx)
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}

	mc := mysql.NewConfig()
	mc.Net = "tcp"
	mc.Addr = s.endpoint
	mc.User = s.username
	mc.Passwd = s.password
	mc.TLSConfig = s.tls
	mc.AllowCleartextPasswords = s.cleartext
	mc.Timeout = 5 * time.Second
	mc.Logger = &mysql.NopLogger{} // the driver would otherwise print to stderr
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql: invalid connection settings for %s: %w", s.endpoint, err)
	}
	db := sql.OpenDB(connector)
	// One connection keeps every statement of an operation in one session.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)

	deadline := time.Now().Add(s.timeout)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = db.PingContext(pctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || !retryable(err) || time.Now().Add(backoff).After(deadline) {
			_ = db.Close()
			if retryable(err) && ctx.Err() == nil {
				return nil, fmt.Errorf("mysql: could not connect to %s as %q within %s (%d attempts): %w",
					s.endpoint, s.username, s.timeout, attempt, err)
			}
			return nil, fmt.Errorf("mysql: connecting to %s as %q: %w", s.endpoint, s.username, err)
		}
		p.GetLogger(ctx).InfoStatusf("waiting for MySQL at %s (%v)", s.endpoint, err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 3*time.Second)
	}

	sess := &session{db: db}
	var ver, mode string
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@SESSION.sql_mode").Scan(&ver, &mode); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mysql: querying server version at %s: %w", s.endpoint, err)
	}
	sess.mariaDB = strings.Contains(strings.ToLower(ver), "mariadb")
	sess.major, _ = strconv.Atoi(strings.SplitN(ver, ".", 2)[0])
	sess.noBackslashEscapes = strings.Contains(strings.ToUpper(mode), "NO_BACKSLASH_ESCAPES")
	return sess, nil
}

// retryable reports whether err looks like "server not (yet) reachable" rather
// than a definitive answer such as wrong credentials or a TLS mismatch.
func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053, // server shutdown in progress
			1927: // connection was killed
			return true
		}
		return false
	}
	for _, fatal := range []error{mysql.ErrNoTLS, mysql.ErrCleartextPassword, mysql.ErrNativePassword,
		mysql.ErrOldPassword, mysql.ErrUnknownPlugin, mysql.ErrOldProtocol} {
		if errors.Is(err, fatal) {
			return false
		}
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return false
	}
	// Network errors, EOF from a proxy that accepts before the server is up,
	// "invalid connection", timeouts: try again.
	return true
}

func (s *session) Close() { _ = s.db.Close() }

// exec runs a statement. what describes it for error messages; the statement
// text itself is never included because it may contain a password, and any
// secrets echoed back by the server (syntax errors quote the statement) are
// redacted.
func (s *session) exec(ctx context.Context, what, stmt string, secrets ...string) error {
	_, err := s.db.ExecContext(ctx, stmt)
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		quoted := s.lit(secret)
		msg = strings.ReplaceAll(msg, quoted[1:len(quoted)-1], "***")
		msg = strings.ReplaceAll(msg, secret, "***")
	}
	if msg != err.Error() {
		return fmt.Errorf("mysql: %s: %s", what, msg)
	}
	return fmt.Errorf("mysql: %s: %w", what, err)
}

// mysqlErrno returns the server error number of err, or 0.
func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}
