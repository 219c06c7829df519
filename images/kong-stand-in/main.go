// Command kong-stand-in stands in for Kong in the real-node tests: it is NOT Kong. One static
// binary, run under the names the pods of the Kong chart run (dispatched on argv[0]):
//
//   - kong-stand-in (the image's entrypoint, Kong's proxy container): the proxy on 8000 (HTTP) and
//     8443 (TLS, a certificate made at start), the status API on 8100 (/status, /status/ready);
//     every proxy answer names the pod (its hostname) and the port. With CONTROLLER_* variables in
//     its environment (the ingress controller's container, when the real Kong chart is used) it
//     serves the controller's health endpoints instead: /healthz and /readyz on 10254.
//   - kong quit --wait=N (Kong's preStop hook): waits N seconds, as `kong quit` does, then asks PID 1
//     (the server) to stop; the server closes its listeners and finishes the requests in flight.
//   - rm -vrf PATH... (the chart's clear-stale-pid init container): removes the paths.
//
// It writes no file (read-only root filesystem) and binds only ports above 1024 (non-root, no
// capabilities).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case "kong":
		if len(os.Args) > 1 && os.Args[1] == "quit" {
			quit(os.Args[2:])
			return
		}
		fmt.Fprintln(os.Stderr, "kong-stand-in: only `kong quit [--wait=N]` is supported")
		os.Exit(2)
	case "rm":
		for _, path := range os.Args[1:] {
			if !strings.HasPrefix(path, "-") {
				if err := os.RemoveAll(path); err != nil {
					fmt.Fprintln(os.Stderr, "rm:", err)
					os.Exit(1)
				}
			}
		}
		return
	}
	name, _ := os.Hostname()
	var servers []*http.Server
	if controller() {
		health := http.NewServeMux()
		health.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		health.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
		servers = []*http.Server{{Addr: ":10254", Handler: health}}
	} else {
		answer := func(port string) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprintf(w, "kong-stand-in %s :%s %s\n", name, port, r.URL.Path)
			})
		}
		status := http.NewServeMux()
		status.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "{\"server\":{\"name\":%q}}\n", name)
		})
		status.HandleFunc("/status/ready", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ready") })
		servers = []*http.Server{
			{Addr: ":8000", Handler: answer("8000")},
			{Addr: ":8443", Handler: answer("8443"), TLSConfig: &tls.Config{Certificates: []tls.Certificate{certificate(name)}}},
			{Addr: ":8100", Handler: status},
		}
	}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if s.TLSConfig != nil {
				errs <- s.ListenAndServeTLS("", "")
			} else {
				errs <- s.ListenAndServe()
			}
		}()
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "kong-stand-in:", err)
		os.Exit(1)
	case s := <-signals:
		fmt.Fprintln(os.Stderr, "kong-stand-in: stopping on", s)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(ctx)
		}
	}
}

// controller reports whether this is the ingress controller's container (its CONTROLLER_* settings).
func controller() bool {
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "CONTROLLER_") {
			return true
		}
	}
	return false
}

// quit waits --wait=N seconds, then sends SIGQUIT to PID 1 of the container, the server.
func quit(args []string) {
	wait := 0
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--wait="); ok {
			wait, _ = strconv.Atoi(v)
		}
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if err := syscall.Kill(1, syscall.SIGQUIT); err != nil {
		fmt.Fprintln(os.Stderr, "kong quit:", err)
		os.Exit(1)
	}
}

// certificate is a self-signed certificate for the pod's name, made in memory at start.
func certificate(name string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
