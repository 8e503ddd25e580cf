package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

const (
	dbType    = "mysql:index/database:Database"
	userType  = "mysql:index/user:User"
	grantType = "mysql:index/grant:Grant"
)

func TestSchemaTokensAndProperties(t *testing.T) {
	s := newServer(t, "127.0.0.1:1", "", "")
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Config struct {
			Variables map[string]struct {
				Secret bool `json:"secret"`
			} `json:"variables"`
		} `json:"config"`
		Resources map[string]struct {
			InputProperties map[string]struct {
				Secret bool `json:"secret"`
			} `json:"inputProperties"`
			RequiredInputs []string `json:"requiredInputs"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(resp.Schema), &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		dbType:    {"name", "defaultCharacterSet", "defaultCollation"},
		userType:  {"user", "host", "plaintextPassword", "password", "authPlugin", "tlsOption"},
		grantType: {"user", "host", "role", "database", "table", "privileges", "roles", "grant", "tlsOption"},
	}
	for tok, fields := range want {
		r, ok := schema.Resources[tok]
		if !ok {
			t.Fatalf("schema lacks resource %s (has %v)", tok, keys(schema.Resources))
		}
		for _, f := range fields {
			if _, ok := r.InputProperties[f]; !ok {
				t.Errorf("%s lacks input %s", tok, f)
			}
		}
	}
	if !schema.Resources[userType].InputProperties["plaintextPassword"].Secret {
		t.Error("plaintextPassword is not secret")
	}
	for _, v := range []string{"endpoint", "username", "password", "tls", "authenticationPlugin", "proxy"} {
		if _, ok := schema.Config.Variables[v]; !ok {
			t.Errorf("config lacks %s", v)
		}
	}
	if !schema.Config.Variables["password"].Secret {
		t.Error("config password is not secret")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestConfigValidation(t *testing.T) {
	prov, err := newProvider()
	if err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string]map[string]any{
		"proxy":  {"proxy": "socks5://127.0.0.1:1080"},
		"tls":    {"tls": "maybe"},
		"plugin": {"authenticationPlugin": "kerberos"},
	} {
		s, err := integration.NewServer(t.Context(), "mysql", semverV, integration.WithProvider(prov))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Configure(p.ConfigureRequest{Args: props(args)}); err == nil {
			t.Errorf("%s: Configure accepted invalid config %v", name, args)
		}
	}
}

// With nothing listening, an operation retries until the timeout and then
// fails with an error naming the endpoint.
func TestConnectGivesUpWithClearError(t *testing.T) {
	t.Setenv(ConnectTimeoutEnv, "2s")
	endpoint := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := newServer(t, endpoint, "root", "secret-pw-123")
	u := urn(dbType, "never")
	in := check(t, s, u, props(map[string]any{"name": "never"}), property.Map{})
	start := time.Now()
	_, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("create succeeded without a server")
	}
	msg := err.Error()
	if !strings.Contains(msg, endpoint) || !strings.Contains(msg, "within 2s") {
		t.Errorf("error does not name endpoint and timeout: %s", msg)
	}
	if strings.Contains(msg, "secret-pw-123") {
		t.Errorf("error leaks the password: %s", msg)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("gave up after %s, want about 2s", elapsed)
	}
	t.Logf("failed after %s: %s", elapsed, msg)
}

var semverV = mustSemver("0.0.1")

func TestMariaDB(t *testing.T) {
	start := time.Now()
	m := startMariaDB(t)
	t.Logf("MariaDB up at %s after %s", m.endpoint, time.Since(start))
	s := newServer(t, m.endpoint, "root", m.rootPW)

	t.Run("Database", func(t *testing.T) { testDatabase(t, m, s) })
	t.Run("User", func(t *testing.T) { testUser(t, m, s) })
	t.Run("Grant", func(t *testing.T) { testGrant(t, m, s) })
	t.Run("RoleGrant", func(t *testing.T) { testRoleGrant(t, m, s) })
	t.Run("NoBackslashEscapesMode", func(t *testing.T) {
		// Literal escaping must follow the server's sql_mode.
		var mode string
		if err := m.admin.QueryRow("SELECT @@GLOBAL.sql_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if _, err := m.admin.Exec("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.admin.Exec("SET GLOBAL sql_mode = ?", mode) })
		const user, pw = `nb\'user`, `p\'w\`
		u := urn(userType, "nb")
		in := check(t, s, u, props(map[string]any{"user": user, "host": "%", "plaintextPassword": pw}), property.Map{})
		cr, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
		if err != nil {
			t.Fatal(err)
		}
		if !userExists(t, m.admin, user, "%") {
			t.Fatal("user not created under its exact name")
		}
		if ok, err := canLogin(t, m.endpoint, user, pw); !ok {
			t.Fatalf("cannot log in: %v", err)
		}
		if err := s.Delete(p.DeleteRequest{ID: cr.ID, Urn: u, Properties: cr.Properties}); err != nil {
			t.Fatal(err)
		}
		if userExists(t, m.admin, user, "%") {
			t.Fatal("user not dropped")
		}
	})
	t.Run("WrongPasswordFailsFast", func(t *testing.T) {
		bad := newServer(t, m.endpoint, "root", "not-the-password")
		u := urn(dbType, "x")
		in := check(t, bad, u, props(map[string]any{"name": "x"}), property.Map{})
		begin := time.Now()
		_, err := bad.Create(p.CreateRequest{Urn: u, Properties: in})
		if err == nil || !strings.Contains(err.Error(), "Access denied") {
			t.Fatalf("want access denied, got %v", err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("authentication failure was retried for %s", d)
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("error leaks the password: %v", err)
		}
	})
	t.Run("RetriesUntilServerReachable", func(t *testing.T) {
		// The provider is pointed at a port that first refuses, then drops
		// connections, then forwards to the real server.
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		proxyAfter(t, addr, m.endpoint, 1500*time.Millisecond, 1500*time.Millisecond)
		slow := newServer(t, addr, "root", m.rootPW)
		u := urn(dbType, "late")
		in := check(t, slow, u, props(map[string]any{"name": "late_db"}), property.Map{})
		begin := time.Now()
		resp, err := slow.Create(p.CreateRequest{Urn: u, Properties: in})
		if err != nil {
			t.Fatalf("create through slow endpoint: %v", err)
		}
		if d := time.Since(begin); d < 3*time.Second {
			t.Errorf("create finished after %s, before the server was reachable", d)
		}
		if !schemaExists(t, m.admin, "late_db") {
			t.Fatal("late_db not created")
		}
		if err := slow.Delete(p.DeleteRequest{ID: resp.ID, Urn: u, Properties: resp.Properties}); err != nil {
			t.Fatal(err)
		}
	})
}

func schemaExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func schemaCharset(t *testing.T, db *sql.DB, name string) (string, string) {
	t.Helper()
	var cs, coll string
	if err := db.QueryRow("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
		name).Scan(&cs, &coll); err != nil {
		t.Fatal(err)
	}
	return cs, coll
}

func diffKinds(d p.DiffResponse) map[string]p.DiffKind {
	out := map[string]p.DiffKind{}
	for k, v := range d.DetailedDiff {
		out[k] = v.Kind
	}
	return out
}

func testDatabase(t *testing.T, m *mariaDB, s integration.Server) {
	const name = "mail `db'\\x" // exercises identifier quoting
	u := urn(dbType, "maildb")
	in := check(t, s, u, props(map[string]any{"name": name}), property.Map{})
	if str(in, "defaultCharacterSet") != "utf8" || str(in, "defaultCollation") != "utf8_general_ci" {
		t.Fatalf("defaults not applied: %v", in)
	}

	// Preview creates nothing.
	if _, err := s.Create(p.CreateRequest{Urn: u, Properties: in, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, m.admin, name) {
		t.Fatal("preview created the database")
	}

	cr, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if cr.ID != name {
		t.Errorf("ID %q, want %q", cr.ID, name)
	}
	if cs, coll := schemaCharset(t, m.admin, name); cs != "utf8mb3" || coll != "utf8mb3_general_ci" {
		t.Errorf("server has %s/%s, want utf8(mb3)/utf8(mb3)_general_ci", cs, coll)
	}
	if str(cr.Properties, "defaultCharacterSet") != "utf8" {
		t.Errorf("state charset %q, want the declared spelling utf8", str(cr.Properties, "defaultCharacterSet"))
	}

	// No change: no diff, and a refresh reads back the same state.
	d, err := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in, OldInputs: in})
	if err != nil || d.HasChanges {
		t.Fatalf("unexpected diff %v %v", diffKinds(d), err)
	}
	rd, err := s.Read(p.ReadRequest{ID: cr.ID, Urn: u, Properties: cr.Properties, Inputs: in})
	if err != nil || rd.ID != name || !sameProps(rd.Properties, cr.Properties) {
		t.Fatalf("refresh: id=%q props=%v err=%v", rd.ID, rd.Properties, err)
	}

	// Charset/collation change: an in-place update.
	in2 := check(t, s, u, props(map[string]any{"name": name, "defaultCharacterSet": "utf8mb4",
		"defaultCollation": "utf8mb4_unicode_ci"}), in)
	d, err = s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in2, OldInputs: in})
	if err != nil || !d.HasChanges || d.DetailedDiff["defaultCharacterSet"].Kind != p.Update ||
		d.DetailedDiff["defaultCollation"].Kind != p.Update || len(d.DetailedDiff) != 2 {
		t.Fatalf("want update of charset+collation, got %v %v", diffKinds(d), err)
	}
	up, err := s.Update(p.UpdateRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in2, OldInputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if cs, coll := schemaCharset(t, m.admin, name); cs != "utf8mb4" || coll != "utf8mb4_unicode_ci" {
		t.Errorf("after update server has %s/%s", cs, coll)
	}
	if d, _ := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: up.Properties, Inputs: in2, OldInputs: in2}); d.HasChanges {
		t.Errorf("diff after update: %v", diffKinds(d))
	}

	// Charset without collation: the server's default collation is used and
	// recorded, and does not show up as a diff.
	in3 := check(t, s, u, props(map[string]any{"name": name, "defaultCharacterSet": "latin1"}), in2)
	up3, err := s.Update(p.UpdateRequest{ID: cr.ID, Urn: u, State: up.Properties, Inputs: in3, OldInputs: in2})
	if err != nil {
		t.Fatal(err)
	}
	if cs, coll := schemaCharset(t, m.admin, name); cs != "latin1" || str(up3.Properties, "defaultCollation") != coll {
		t.Errorf("server %s/%s, state collation %q", cs, coll, str(up3.Properties, "defaultCollation"))
	}
	if d, _ := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: up3.Properties, Inputs: in3, OldInputs: in3}); d.HasChanges {
		t.Errorf("diff after charset-only update: %v", diffKinds(d))
	}

	// Renaming replaces.
	in4 := check(t, s, u, props(map[string]any{"name": "other", "defaultCharacterSet": "latin1"}), in3)
	d, err = s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: up3.Properties, Inputs: in4, OldInputs: in3})
	if err != nil || d.DetailedDiff["name"].Kind != p.UpdateReplace {
		t.Fatalf("rename: want replace, got %v %v", diffKinds(d), err)
	}

	if err := s.Delete(p.DeleteRequest{ID: cr.ID, Urn: u, Properties: up3.Properties}); err != nil {
		t.Fatal(err)
	}
	if schemaExists(t, m.admin, name) {
		t.Fatal("database still exists after delete")
	}
	rd, err = s.Read(p.ReadRequest{ID: cr.ID, Urn: u, Properties: up3.Properties, Inputs: in3})
	if err != nil || rd.ID != "" {
		t.Errorf("read after delete: id=%q err=%v", rd.ID, err)
	}

	// Auto-naming when name is omitted, stable across checks.
	auto := check(t, s, u, property.Map{}, property.Map{})
	if n := str(auto, "name"); !strings.HasPrefix(n, "maildb-") || len(n) != len("maildb-")+7 {
		t.Errorf("auto name %q", n)
	}
	if again := check(t, s, u, property.Map{}, auto); str(again, "name") != str(auto, "name") {
		t.Errorf("auto name changed: %q -> %q", str(auto, "name"), str(again, "name"))
	}
}

func userExists(t *testing.T, db *sql.DB, user, host string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", user, host).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func testUser(t *testing.T, m *mariaDB, s integration.Server) {
	const user, pw1, pw2 = `o'brien\app`, `first'pw\1"`, "second-pw-2"
	u := urn(userType, "app")

	// Defaults and validation.
	def := check(t, s, u, props(map[string]any{"user": "x"}), property.Map{})
	if str(def, "host") != "localhost" || str(def, "tlsOption") != "NONE" {
		t.Errorf("defaults not applied: %v", def)
	}
	bad, err := s.Check(p.CheckRequest{Urn: u, Inputs: props(map[string]any{"user": "x", "plaintextPassword": "a",
		"authPlugin": "mysql_native_password"})})
	if err != nil || len(bad.Failures) == 0 {
		t.Errorf("authPlugin+password accepted: %+v %v", bad.Failures, err)
	}

	in := check(t, s, u, props(map[string]any{"user": user, "host": "%", "plaintextPassword": pw1}), property.Map{})
	if v := in.Get("plaintextPassword"); !v.Secret() {
		t.Error("checked plaintextPassword is not secret")
	}
	cr, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if cr.ID != user+"@%" {
		t.Errorf("ID %q", cr.ID)
	}
	if v := cr.Properties.Get("plaintextPassword"); !v.Secret() || v.AsString() == pw1 || v.AsString() != hashPassword(pw1) {
		t.Errorf("state password should be the secret SHA-256 hash, got secret=%v", v.Secret())
	}
	if ok, err := canLogin(t, m.endpoint, user, pw1); !ok {
		t.Fatalf("cannot log in with the password: %v", err)
	}
	if ok, _ := canLogin(t, m.endpoint, user, "wrong"); ok {
		t.Fatal("logged in with a wrong password")
	}

	d, err := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in, OldInputs: in})
	if err != nil || d.HasChanges {
		t.Fatalf("unexpected diff %v %v", diffKinds(d), err)
	}
	rd, err := s.Read(p.ReadRequest{ID: cr.ID, Urn: u, Properties: cr.Properties, Inputs: in})
	if err != nil || rd.ID != cr.ID || !sameProps(rd.Properties, cr.Properties) {
		t.Fatalf("refresh: %q %v %v", rd.ID, rd.Properties, err)
	}

	// Password change: update in place, takes effect.
	in2 := check(t, s, u, props(map[string]any{"user": user, "host": "%", "plaintextPassword": pw2}), in)
	d, err = s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in2, OldInputs: in})
	if err != nil || len(d.DetailedDiff) != 1 || d.DetailedDiff["plaintextPassword"].Kind != p.Update {
		t.Fatalf("want password update, got %v %v", diffKinds(d), err)
	}
	up, err := s.Update(p.UpdateRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in2, OldInputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := canLogin(t, m.endpoint, user, pw2); !ok {
		t.Fatalf("new password rejected: %v", err)
	}
	if ok, _ := canLogin(t, m.endpoint, user, pw1); ok {
		t.Fatal("old password still works")
	}

	// tlsOption change: update (REQUIRE SSL), visible in mysql.user; then back.
	in3 := check(t, s, u, props(map[string]any{"user": user, "host": "%", "plaintextPassword": pw2, "tlsOption": "SSL"}), in2)
	d, _ = s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: up.Properties, Inputs: in3, OldInputs: in2})
	if d.DetailedDiff["tlsOption"].Kind != p.Update || len(d.DetailedDiff) != 1 {
		t.Fatalf("want tlsOption update, got %v", diffKinds(d))
	}
	up3, err := s.Update(p.UpdateRequest{ID: cr.ID, Urn: u, State: up.Properties, Inputs: in3, OldInputs: in2})
	if err != nil {
		t.Fatal(err)
	}
	var sslType string
	if err := m.admin.QueryRow("SELECT ssl_type FROM mysql.user WHERE User = ? AND Host = '%'", user).Scan(&sslType); err != nil || sslType != "ANY" {
		t.Errorf("ssl_type %q %v, want ANY", sslType, err)
	}
	if _, err := s.Update(p.UpdateRequest{ID: cr.ID, Urn: u, State: up3.Properties, Inputs: in2, OldInputs: in3}); err != nil {
		t.Fatal(err)
	}

	// Host or user change replaces; an authPlugin change replaces delete-first.
	for field, val := range map[string]string{"host": "10.0.0.1", "user": "someone"} {
		kv := map[string]any{"user": user, "host": "%", "plaintextPassword": pw2}
		kv[field] = val
		inX := check(t, s, u, props(kv), in2)
		d, _ := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: up.Properties, Inputs: inX, OldInputs: in2})
		if d.DetailedDiff[field].Kind != p.UpdateReplace || d.DeleteBeforeReplace {
			t.Errorf("%s change: %v dbr=%v", field, diffKinds(d), d.DeleteBeforeReplace)
		}
	}
	inP := check(t, s, u, props(map[string]any{"user": user, "host": "%", "authPlugin": "unix_socket"}), in2)
	if d, _ := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: up.Properties, Inputs: inP, OldInputs: in2}); d.DetailedDiff["authPlugin"].Kind != p.UpdateReplace || !d.DeleteBeforeReplace {
		t.Errorf("authPlugin change: %v dbr=%v", diffKinds(d), d.DeleteBeforeReplace)
	}

	if err := s.Delete(p.DeleteRequest{ID: cr.ID, Urn: u, Properties: up.Properties}); err != nil {
		t.Fatal(err)
	}
	if userExists(t, m.admin, user, "%") {
		t.Fatal("user still exists after delete")
	}
	if ok, _ := canLogin(t, m.endpoint, user, pw2); ok {
		t.Fatal("deleted user can still log in")
	}
	if rd, err := s.Read(p.ReadRequest{ID: cr.ID, Urn: u, Properties: up.Properties, Inputs: in2}); err != nil || rd.ID != "" {
		t.Errorf("read after delete: %q %v", rd.ID, err)
	}
	// Deleting again is harmless.
	if err := s.Delete(p.DeleteRequest{ID: cr.ID, Urn: u, Properties: up.Properties}); err != nil {
		t.Errorf("second delete: %v", err)
	}

	// Default host "localhost" and an authentication plugin instead of a password.
	inL := check(t, s, u, props(map[string]any{"user": "sock_user", "authPlugin": "unix_socket"}), property.Map{})
	crL, err := s.Create(p.CreateRequest{Urn: u, Properties: inL})
	if err != nil {
		t.Fatal(err)
	}
	var plugin string
	if err := m.admin.QueryRow("SELECT plugin FROM mysql.user WHERE User = 'sock_user' AND Host = 'localhost'").Scan(&plugin); err != nil || plugin != "unix_socket" {
		t.Errorf("plugin %q %v", plugin, err)
	}
	if err := s.Delete(p.DeleteRequest{ID: crL.ID, Urn: u, Properties: crL.Properties}); err != nil {
		t.Fatal(err)
	}
	if userExists(t, m.admin, "sock_user", "localhost") {
		t.Error("sock_user not dropped")
	}
}

func showGrants(t *testing.T, db *sql.DB, account string) []string {
	t.Helper()
	rows, err := db.Query("SHOW GRANTS FOR " + account)
	if err != nil {
		t.Fatalf("SHOW GRANTS FOR %s: %v", account, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var l string
		_ = rows.Scan(&l)
		out = append(out, l)
	}
	return out
}

func hasGrantLine(lines []string, substr string) bool {
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

func testGrant(t *testing.T, m *mariaDB, s integration.Server) {
	const db, user, pw = "mail`grants", "grantee", "grantee-pw"
	for _, stmt := range []string{
		"CREATE DATABASE `mail``grants`",
		"CREATE TABLE `mail``grants`.t (a INT)",
		"INSERT INTO `mail``grants`.t VALUES (1)",
		"CREATE USER 'grantee'@'%' IDENTIFIED BY 'grantee-pw'",
	} {
		if _, err := m.admin.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		m.admin.Exec("DROP DATABASE IF EXISTS `mail``grants`")
		m.admin.Exec("DROP USER IF EXISTS 'grantee'@'%'")
	})
	u := urn(grantType, "g")
	account := "'grantee'@'%'"
	asUser := openDB(t, m.endpoint, user, pw)
	defer asUser.Close()
	selectWorks := func() bool {
		var n int
		err := asUser.QueryRow("SELECT COUNT(*) FROM `mail``grants`.t").Scan(&n)
		return err == nil && n == 1
	}
	if selectWorks() {
		t.Fatal("user can read before the grant")
	}

	def := check(t, s, u, props(map[string]any{"user": user, "database": db, "privileges": []string{"SELECT"}}), property.Map{})
	if str(def, "host") != "localhost" || str(def, "table") != "*" {
		t.Errorf("defaults: %v", def)
	}
	if bad, _ := s.Check(p.CheckRequest{Urn: u, Inputs: props(map[string]any{"user": user, "database": db,
		"privileges": []string{"SELECT; DROP DATABASE x"}})}); len(bad.Failures) == 0 {
		t.Error("malicious privilege accepted")
	}

	in := check(t, s, u, props(map[string]any{"user": user, "host": "%", "database": db,
		"privileges": []string{"select", "INSERT"}}), property.Map{})
	cr, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if want := "grantee@%:`mail``grants`"; cr.ID != want {
		t.Errorf("ID %q, want %q", cr.ID, want)
	}
	if l := showGrants(t, m.admin, account); !hasGrantLine(l, "GRANT SELECT, INSERT ON `mail``grants`.* TO `grantee`@`%`") {
		t.Fatalf("grant not in SHOW GRANTS: %v", l)
	}
	if !selectWorks() {
		t.Fatal("user cannot read after the grant")
	}

	d, err := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in, OldInputs: in})
	if err != nil || d.HasChanges {
		t.Fatalf("unexpected diff %v %v", diffKinds(d), err)
	}
	rd, err := s.Read(p.ReadRequest{ID: cr.ID, Urn: u, Properties: cr.Properties, Inputs: in})
	if err != nil || rd.ID != cr.ID || !sameProps(rd.Properties, cr.Properties) {
		t.Fatalf("refresh: %q %v %v", rd.ID, rd.Properties, err)
	}

	// Drift: a privilege revoked outside Pulumi shows up on refresh.
	if _, err := m.admin.Exec("REVOKE INSERT ON `mail``grants`.* FROM 'grantee'@'%'"); err != nil {
		t.Fatal(err)
	}
	rd, err = s.Read(p.ReadRequest{ID: cr.ID, Urn: u, Properties: cr.Properties, Inputs: in})
	if err != nil || sameProps(rd.Properties, cr.Properties) {
		t.Errorf("drift not detected: %v %v", rd.Properties, err)
	}
	if d, _ := s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: rd.Properties, Inputs: in, OldInputs: in}); !d.HasChanges {
		t.Error("drifted grant shows no diff")
	}

	// Any change replaces, deleting first.
	in2 := check(t, s, u, props(map[string]any{"user": user, "host": "%", "database": db,
		"privileges": []string{"SELECT", "INSERT", "UPDATE"}, "grant": true}), in)
	d, _ = s.Diff(p.DiffRequest{ID: cr.ID, Urn: u, State: cr.Properties, Inputs: in2, OldInputs: in})
	if d.DetailedDiff["privileges"].Kind != p.UpdateReplace || d.DetailedDiff["grant"].Kind != p.UpdateReplace || !d.DeleteBeforeReplace {
		t.Fatalf("want delete-before-replace, got %v dbr=%v", diffKinds(d), d.DeleteBeforeReplace)
	}
	// Simulate the engine: delete old, create new.
	if err := s.Delete(p.DeleteRequest{ID: cr.ID, Urn: u, Properties: rd.Properties}); err != nil {
		t.Fatal(err)
	}
	if selectWorks() {
		t.Fatal("user can still read after revoke")
	}
	cr2, err := s.Create(p.CreateRequest{Urn: u, Properties: in2})
	if err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, account); !hasGrantLine(l, "GRANT SELECT, INSERT, UPDATE ON `mail``grants`.* TO `grantee`@`%` WITH GRANT OPTION") {
		t.Fatalf("new grant not in SHOW GRANTS: %v", l)
	}
	if rd, err := s.Read(p.ReadRequest{ID: cr2.ID, Urn: u, Properties: cr2.Properties, Inputs: in2}); err != nil || !sameProps(rd.Properties, cr2.Properties) {
		t.Errorf("refresh with grant option: %v %v", rd.Properties, err)
	}

	// Table-level grant with a column privilege.
	ut := urn(grantType, "gt")
	inT := check(t, s, ut, props(map[string]any{"user": user, "host": "%", "database": db, "table": "t",
		"privileges": []string{"SELECT (a)", "DELETE"}}), property.Map{})
	crT, err := s.Create(p.CreateRequest{Urn: ut, Properties: inT})
	if err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, account); !hasGrantLine(l, "ON `mail``grants`.`t` TO") {
		t.Fatalf("table grant missing: %v", l)
	}
	if rd, err := s.Read(p.ReadRequest{ID: crT.ID, Urn: ut, Properties: crT.Properties, Inputs: inT}); err != nil || !sameProps(rd.Properties, crT.Properties) {
		t.Errorf("refresh table grant: %v %v", rd.Properties, err)
	}
	if err := s.Delete(p.DeleteRequest{ID: crT.ID, Urn: ut, Properties: crT.Properties}); err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, account); hasGrantLine(l, "`t`") {
		t.Fatalf("table grant not revoked: %v", l)
	}

	// Delete revokes everything, including the grant option; again is a no-op.
	if err := s.Delete(p.DeleteRequest{ID: cr2.ID, Urn: u, Properties: cr2.Properties}); err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, account); hasGrantLine(l, "mail``grants") {
		t.Fatalf("grant not revoked: %v", l)
	}
	if selectWorks() {
		t.Fatal("user can read after delete")
	}
	if rd, err := s.Read(p.ReadRequest{ID: cr2.ID, Urn: u, Properties: cr2.Properties, Inputs: in2}); err != nil || rd.ID != "" {
		t.Errorf("read after delete: %q %v", rd.ID, err)
	}
	if err := s.Delete(p.DeleteRequest{ID: cr2.ID, Urn: u, Properties: cr2.Properties}); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func testRoleGrant(t *testing.T, m *mariaDB, s integration.Server) {
	for _, stmt := range []string{"CREATE ROLE `mail-reader`", "CREATE USER 'ruser'@'%' IDENTIFIED BY 'x'", "CREATE DATABASE rdb"} {
		if _, err := m.admin.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		m.admin.Exec("DROP ROLE IF EXISTS `mail-reader`")
		m.admin.Exec("DROP USER IF EXISTS 'ruser'@'%'")
		m.admin.Exec("DROP DATABASE IF EXISTS rdb")
	})

	// Privileges to a role.
	u1 := urn(grantType, "role-privs")
	in1 := check(t, s, u1, props(map[string]any{"role": "mail-reader", "database": "rdb", "privileges": []string{"SELECT"}}), property.Map{})
	if str(in1, "host") != "" {
		t.Errorf("host defaulted for a role grant: %q", str(in1, "host"))
	}
	cr1, err := s.Create(p.CreateRequest{Urn: u1, Properties: in1})
	if err != nil {
		t.Fatal(err)
	}
	if cr1.ID != "mail-reader:`rdb`" {
		t.Errorf("role grant ID %q", cr1.ID)
	}
	if l := showGrants(t, m.admin, "`mail-reader`"); !hasGrantLine(l, "GRANT SELECT ON `rdb`.* TO `mail-reader`") {
		t.Fatalf("role privilege missing: %v", l)
	}

	// The role to a user.
	u2 := urn(grantType, "user-role")
	in2 := check(t, s, u2, props(map[string]any{"user": "ruser", "host": "%", "database": "rdb", "roles": []string{"mail-reader"}}), property.Map{})
	cr2, err := s.Create(p.CreateRequest{Urn: u2, Properties: in2})
	if err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, "'ruser'@'%'"); !hasGrantLine(l, "GRANT `mail-reader` TO `ruser`@`%`") {
		t.Fatalf("role not granted: %v", l)
	}
	if rd, err := s.Read(p.ReadRequest{ID: cr2.ID, Urn: u2, Properties: cr2.Properties, Inputs: in2}); err != nil || !sameProps(rd.Properties, cr2.Properties) {
		t.Errorf("refresh role grant: %v %v", rd.Properties, err)
	}
	if err := s.Delete(p.DeleteRequest{ID: cr2.ID, Urn: u2, Properties: cr2.Properties}); err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, "'ruser'@'%'"); hasGrantLine(l, "mail-reader") {
		t.Fatalf("role not revoked: %v", l)
	}
	if err := s.Delete(p.DeleteRequest{ID: cr1.ID, Urn: u1, Properties: cr1.Properties}); err != nil {
		t.Fatal(err)
	}
	if l := showGrants(t, m.admin, "`mail-reader`"); hasGrantLine(l, "rdb") {
		t.Fatalf("role privilege not revoked: %v", l)
	}
}

// Changing the provider configuration updates the provider in place instead
// of replacing it (which would replace every resource it manages).
func TestConfigDiffIsUpdate(t *testing.T) {
	s := newServer(t, "127.0.0.1:1", "", "")
	olds := props(map[string]any{"endpoint": "db:3306", "username": "root", "password": property.New("a").WithSecret(true)})
	news := props(map[string]any{"endpoint": "db:3307", "username": "root", "password": property.New("b").WithSecret(true)})
	d, err := s.DiffConfig(p.DiffRequest{Urn: "urn:pulumi:test::mail-system::pulumi:providers:mysql::p", State: olds, OldInputs: olds, Inputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasChanges || d.DetailedDiff["endpoint"].Kind != p.Update || d.DetailedDiff["password"].Kind != p.Update {
		t.Errorf("want in-place updates, got %v", diffKinds(d))
	}
	same, err := s.DiffConfig(p.DiffRequest{Urn: "urn:pulumi:test::mail-system::pulumi:providers:mysql::p", State: olds, OldInputs: olds, Inputs: olds})
	if err != nil || same.HasChanges {
		t.Errorf("no-change config diff: %v %v", diffKinds(same), err)
	}
}

// Preview with unknown inputs (e.g. a user name or password coming from
// another resource) must check and "create" without touching any server.
func TestPreviewWithUnknowns(t *testing.T) {
	t.Setenv(ConnectTimeoutEnv, "1s")
	s := newServer(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), "root", "pw") // nothing listens
	unknown := property.New(property.Computed)
	for typ, inputs := range map[string]property.Map{
		dbType:    props(map[string]any{"name": unknown}),
		userType:  props(map[string]any{"user": unknown, "host": "%", "plaintextPassword": unknown}),
		grantType: props(map[string]any{"user": unknown, "host": "%", "database": unknown, "privileges": []string{"SELECT"}}),
	} {
		u := urn(typ, "preview")
		ck, err := s.Check(p.CheckRequest{Urn: u, Inputs: inputs})
		if err != nil || len(ck.Failures) > 0 {
			t.Fatalf("%s check: %v %+v", typ, err, ck.Failures)
		}
		if _, err := s.Create(p.CreateRequest{Urn: u, Properties: ck.Inputs, DryRun: true}); err != nil {
			t.Errorf("%s preview create: %v", typ, err)
		}
	}
}
