package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/docker/client"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

const defaultDockerHost = "unix:///var/run/docker.sock"

// Config is the provider configuration (`docker:host`, ...). Only the
// properties the project can use are declared; the npm SDK's JSON-encoded
// extras (registryAuth, sshOpts, disableDockerDaemonCheck) are ignored by the
// config decoder.
type Config struct {
	Host         *string `pulumi:"host,optional"`
	CertPath     *string `pulumi:"certPath,optional"`
	CaMaterial   *string `pulumi:"caMaterial,optional"`
	CertMaterial *string `pulumi:"certMaterial,optional"`
	KeyMaterial  *string `pulumi:"keyMaterial,optional" provider:"secret"`
	Context      *string `pulumi:"context,optional"`

	client *client.Client
}

func (c *Config) Annotate(a infer.Annotator) {
	a.Describe(&c.Host, "The Docker daemon address. Defaults to DOCKER_HOST, else unix:///var/run/docker.sock.")
	a.Describe(&c.CertPath, "Path to a directory with ca.pem, cert.pem and key.pem for a TLS daemon.")
	a.Describe(&c.CaMaterial, "PEM-encoded content of Docker host CA certificate.")
	a.Describe(&c.CertMaterial, "PEM-encoded content of Docker client certificate.")
	a.Describe(&c.KeyMaterial, "PEM-encoded content of Docker client private key.")
	a.Describe(&c.Context, "Docker CLI context name (not supported by this provider; use host).")
}

// Configure creates the Docker client. It does not contact the daemon, so a
// preview works without one until a resource needs it.
func (c *Config) Configure(ctx context.Context) error {
	if c.Context != nil && *c.Context != "" {
		p.GetLogger(ctx).Warningf("docker:context %q is ignored by this provider; set docker:host instead", *c.Context)
	}
	cl, err := newDockerClient(c)
	if err != nil {
		return err
	}
	c.client = cl
	return nil
}

func newDockerClient(c *Config) (*client.Client, error) {
	host := ""
	if c != nil && c.Host != nil {
		host = strings.TrimSpace(*c.Host)
	}
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		host = defaultDockerHost
	}
	if strings.HasPrefix(host, "ssh://") {
		return nil, fmt.Errorf("docker host %q: ssh:// is not supported by this provider; use a unix:// or tcp:// address", host)
	}

	opts := []client.Opt{client.FromEnv}
	tlsCfg, err := tlsFromMaterial(c)
	if err != nil {
		return nil, err
	}
	switch {
	case tlsCfg != nil:
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}))
	case c != nil && c.CertPath != nil && *c.CertPath != "":
		dir := *c.CertPath
		opts = append(opts, client.WithTLSClientConfig(
			filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))
	}
	// The daemon here speaks API 1.41; negotiate rather than assume the
	// client's (newer) default version.
	opts = append(opts, client.WithHost(host), client.WithAPIVersionNegotiation())
	cl, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating Docker client for %s: %w", host, err)
	}
	return cl, nil
}

// tlsFromMaterial builds a TLS config from PEM material given inline.
func tlsFromMaterial(c *Config) (*tls.Config, error) {
	if c == nil {
		return nil, nil
	}
	get := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	ca, cert, key := get(c.CaMaterial), get(c.CertMaterial), get(c.KeyMaterial)
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, errors.New("docker:caMaterial does not contain a PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if cert != "" || key != "" {
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("docker:certMaterial/keyMaterial: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

var (
	fallbackOnce   sync.Once
	fallbackClient *client.Client
	fallbackErr    error
)

// dockerClient returns the configured client. The engine always calls
// Configure first; the fallback only covers callers that skip it.
func dockerClient(ctx context.Context) (*client.Client, error) {
	cfg := infer.GetConfig[Config](ctx)
	if cfg.client != nil {
		return cfg.client, nil
	}
	fallbackOnce.Do(func() { fallbackClient, fallbackErr = newDockerClient(&cfg) })
	return fallbackClient, fallbackErr
}
