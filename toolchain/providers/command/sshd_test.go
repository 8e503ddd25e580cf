package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a throwaway OpenSSH server on 127.0.0.1 that accepts
// generated keys for the current user: privateKey and, until authorizeOnly
// narrows it, otherPrivateKey.
type testSSHD struct {
	port            int
	user            string
	privateKey      string // OpenSSH PEM of an authorized client key
	otherPrivateKey string // OpenSSH PEM of a second authorized client key
	hostKey         string // authorized_keys line of the server's host key
	authKeysFile    string
}

func genKey(t *testing.T) (ed25519.PrivateKey, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return priv, pem.EncodeToMemory(block)
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

// startSSHD starts sshd for the duration of the test, or skips the test if
// OpenSSH's server is not installed.
func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	hostPriv, _ := genKey(t)
	return startSSHDWithHostKey(t, hostPriv)
}

// startSSHDWithHostKey is startSSHD with the given host key (ed25519 or RSA).
func startSSHDWithHostKey(t *testing.T, hostPriv crypto.Signer) *testSSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("%s not installed (apt-get install -y openssh-server): %v", sshdPath, err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root insists on its privilege separation
		// directory, normally created by the service manager.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("cannot create /run/sshd for sshd: %v", err)
		}
	}

	dir := t.TempDir()
	hostBlock, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	hostPEM := pem.EncodeToMemory(hostBlock)
	clientPriv, clientPEM := genKey(t)
	otherPriv, otherPEM := genKey(t)
	hostPub, _ := ssh.NewPublicKey(hostPriv.Public())
	clientPub, _ := ssh.NewPublicKey(clientPriv.Public())
	otherPub, _ := ssh.NewPublicKey(otherPriv.Public())
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostKeyFile := write("host_key", hostPEM)
	authKeys := write("authorized_keys", append(ssh.MarshalAuthorizedKey(clientPub), ssh.MarshalAuthorizedKey(otherPub)...))
	port := freePort(t)
	config := write("sshd_config", fmt.Appendf(nil, `ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AcceptEnv LANG LC_* ACCEPTED_* PULUMI_COMMAND_STDOUT
LogLevel ERROR
`, hostKeyFile, filepath.Join(dir, "sshd.pid"), authKeys))

	var logs bytes.Buffer
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", config, "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("sshd exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &testSSHD{
		port:            port,
		user:            u.Username,
		privateKey:      string(clientPEM),
		otherPrivateKey: string(otherPEM),
		hostKey:         string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(hostPub))),
		authKeysFile:    authKeys,
	}
}

// authorizeOnly makes the server accept only the given client key (sshd
// reads authorized_keys at each login), as on a host whose key was rotated.
func (s *testSSHD) authorizeOnly(t *testing.T, privateKeyPEM string) {
	t.Helper()
	signer, err := ssh.ParsePrivateKey([]byte(privateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.authKeysFile, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// connection returns connection inputs for the server, plus extras.
func (s *testSSHD) connection(extra map[string]any) map[string]any {
	c := map[string]any{
		"host":           "127.0.0.1",
		"port":           s.port,
		"user":           s.user,
		"privateKey":     s.privateKey,
		"dialErrorLimit": 2,
		"perDialTimeout": 5,
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}
