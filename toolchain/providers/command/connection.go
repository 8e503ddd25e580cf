package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ProxyConnection is command:remote:ProxyConnection: how to reach one SSH
// host. Connection embeds it and adds an optional bastion (proxy) hop.
type ProxyConnection struct {
	Host               string  `pulumi:"host"`
	Port               *int    `pulumi:"port,optional"`
	User               *string `pulumi:"user,optional"`
	Password           *string `pulumi:"password,optional" provider:"secret"`
	PrivateKey         *string `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int    `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int    `pulumi:"perDialTimeout,optional"`
	HostKey            *string `pulumi:"hostKey,optional"`
}

// Connection is command:remote:Connection.
type Connection struct {
	ProxyConnection
	Proxy *ProxyConnection `pulumi:"proxy,optional"`
}

func (c *ProxyConnection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "ProxyConnection")
	a.Describe(c, "Instructions for how to connect to a remote endpoint via a bastion host.")
	c.annotateFields(a)
}

func (c *Connection) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Connection")
	a.Describe(c, "Instructions for how to connect to a remote endpoint.")
	c.annotateFields(a)
	a.Describe(&c.Proxy, "The connection settings for the bastion/proxy host.")
}

func (c *ProxyConnection) annotateFields(a infer.Annotator) {
	a.Describe(&c.Host, "The address of the host to connect to.")
	a.Describe(&c.Port, "The port to connect to. Defaults to 22.")
	a.Describe(&c.User, "The user that we should use for the connection. Defaults to root.")
	a.Describe(&c.Password, "The password we should use for the connection.")
	a.Describe(&c.PrivateKey, "The contents of an SSH key to use for the connection. "+
		"This takes preference over the password if provided.")
	a.Describe(&c.PrivateKeyPassword, "The password to use in case the private key is encrypted.")
	a.Describe(&c.AgentSocketPath, "SSH Agent socket path. Default to environment variable SSH_AUTH_SOCK if present.")
	a.Describe(&c.DialErrorLimit, "Max allowed errors on trying to dial the remote host. "+
		"-1 set count to unlimited. Default value is 10.")
	a.Describe(&c.PerDialTimeout, "Max number of seconds for each dial attempt. 0 implies no maximum. "+
		"Default value is 15 seconds.")
	a.Describe(&c.HostKey, "The expected host key to verify the server's identity. "+
		"If not provided, the host key will be ignored.")
	a.SetDefault(&c.Port, 22)
	a.SetDefault(&c.User, "root")
	a.SetDefault(&c.DialErrorLimit, 10)
	a.SetDefault(&c.PerDialTimeout, 15)
}

func (c ProxyConnection) port() int {
	if c.Port == nil {
		return 22
	}
	return *c.Port
}

func (c ProxyConnection) user() string {
	if c.User == nil {
		return "root"
	}
	return *c.User
}

func (c ProxyConnection) addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.port()))
}

// sshClient is an SSH client plus the bastion client it tunnels through.
type sshClient struct {
	*ssh.Client
	proxy *ssh.Client
}

func (c *sshClient) Close() error {
	err := c.Client.Close()
	if c.proxy != nil {
		err = errors.Join(err, c.proxy.Close())
	}
	return err
}

// dial connects to the host, through the proxy if one is set.
func (c Connection) dial(ctx context.Context) (*sshClient, error) {
	if c.Proxy == nil {
		cl, err := c.ProxyConnection.dialRetry(ctx, nil)
		if err != nil {
			return nil, err
		}
		return &sshClient{Client: cl}, nil
	}
	proxy, err := c.Proxy.dialRetry(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	cl, err := c.ProxyConnection.dialRetry(ctx, func(ctx context.Context, addr string) (net.Conn, error) {
		return proxy.DialContext(ctx, "tcp", addr)
	})
	if err != nil {
		proxy.Close()
		return nil, err
	}
	return &sshClient{Client: cl, proxy: proxy}, nil
}

type dialFunc func(ctx context.Context, addr string) (net.Conn, error)

// dialRetry dials up to dialErrorLimit times (-1: without limit), each
// attempt bounded by perDialTimeout seconds (0: unbounded), waiting with an
// exponential backoff (1s, 1.5s, 2.25s, ... capped at 10s) in between.
func (c ProxyConnection) dialRetry(ctx context.Context, dial dialFunc) (*ssh.Client, error) {
	limit := 10
	if c.DialErrorLimit != nil {
		limit = *c.DialErrorLimit
	}
	timeout := 15 * time.Second
	if c.PerDialTimeout != nil {
		timeout = time.Duration(*c.PerDialTimeout) * time.Second
	}
	if dial == nil {
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
	}
	// A host key that does not parse fails at once, as the official
	// provider's, which parses it before the first dial.
	if c.HostKey != nil {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey)); err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
	}
	wait := time.Second
	for attempt := 1; ; attempt++ {
		client, err := c.dialOnce(ctx, dial, timeout)
		if err == nil {
			return client, nil
		}
		if ctx.Err() != nil || (limit >= 0 && attempt >= limit) {
			return nil, fmt.Errorf("dialing %s as %s failed after %d attempt(s): %w", c.addr(), c.user(), attempt, err)
		}
		p.GetLogger(ctx).InfoStatusf("dial %s failed (attempt %d): %v; retrying in %s", c.addr(), attempt, err, wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dialing %s: %w", c.addr(), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*3/2, 10*time.Second)
	}
}

// dialOnce makes one connection attempt including the SSH handshake.
func (c ProxyConnection) dialOnce(ctx context.Context, dial dialFunc, timeout time.Duration) (*ssh.Client, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	config, closeAgent, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	defer closeAgent()

	conn, err := dial(ctx, c.addr())
	if err != nil {
		return nil, err
	}
	// The handshake does not take a context: abort it by closing the conn.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr(), config)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", c.addr(), ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// clientConfig builds the SSH client configuration. Auth methods are offered
// in the order private key, agent, password (the documented preference).
// The returned func closes the agent connection, if any; it is only needed
// during the handshake.
func (c ProxyConnection) clientConfig() (*ssh.ClientConfig, func(), error) {
	closeAgent := func() {}
	config := &ssh.ClientConfig{User: c.user(), HostKeyCallback: ssh.InsecureIgnoreHostKey()}

	if c.PrivateKey != nil && *c.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil && *c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, closeAgent, fmt.Errorf("parsing privateKey: %w", err)
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}

	sock := os.Getenv("SSH_AUTH_SOCK")
	if c.AgentSocketPath != nil && *c.AgentSocketPath != "" {
		sock = *c.AgentSocketPath
	}
	if sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			closeAgent = func() { conn.Close() }
			config.Auth = append(config.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		} else if c.AgentSocketPath != nil {
			return nil, closeAgent, fmt.Errorf("connecting to SSH agent at %s: %w", sock, err)
		}
	}

	if c.Password != nil && *c.Password != "" {
		pw := *c.Password
		config.Auth = append(config.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(config.Auth) == 0 {
		return nil, closeAgent, errors.New("no SSH authentication method: set privateKey, password or an agent")
	}

	// As the official provider (1.2.1, remote/connection.go): the key in
	// authorized_keys format, checked with ssh.FixedHostKey, and only its
	// type offered as host key algorithm (so an RSA key means "ssh-rsa",
	// SHA-1 signatures, which OpenSSH 8.8 and later no longer offer).
	if c.HostKey != nil {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			closeAgent()
			return nil, func() {}, fmt.Errorf("failed to parse host key: %w", err)
		}
		config.HostKeyCallback = ssh.FixedHostKey(key)
		config.HostKeyAlgorithms = []string{key.Type()}
	}
	return config, closeAgent, nil
}
