// Command secret-server is a secret manager for tests: ESO's `webhook` provider reads it with
//
//	GET /secret?key=<remote key>   →  200 and the value as the body (404 when the key has none)
//
// and the test controls it through files in -dir, read afresh on every request:
//
//	values/<file name of the key>   the value (file name: the key with every byte outside
//	                                [A-Za-z0-9._-] replaced by '_', e.g. /rt/db → _rt_db)
//	mode                            "ok" (default), "fail" (answer 500) or "hang" (answer
//	                                nothing until the client gives up, at most -hang)
//
// Each request appends one line "<unix-nanoseconds> <file name> <status>" to requests.log, so a
// test counts provider reads. The listening address is written to -addr-file once listening.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

type server struct {
	dir     string
	hang    time.Duration
	logMu   sync.Mutex
	logFile *os.File
}

// fileName maps a remote key to a file name inside values/ (never a path: no '/' or "..").
func fileName(key string) string {
	var b strings.Builder
	for _, c := range []byte(key) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if ok {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" || name == "." || name == ".." {
		return "_"
	}
	return name
}

func (s *server) mode() string {
	data, err := os.ReadFile(filepath.Join(s.dir, "mode"))
	if err != nil {
		return "ok"
	}
	return strings.TrimSpace(string(data))
}

func (s *server) record(name string, status int) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.logFile, "%d %s %d\n", time.Now().UnixNano(), name, status)
}

func (s *server) secret(w http.ResponseWriter, r *http.Request) {
	name := fileName(r.URL.Query().Get("key"))
	switch s.mode() {
	case "fail":
		s.record(name, http.StatusInternalServerError)
		http.Error(w, "secret-server: failing on purpose (mode fail)", http.StatusInternalServerError)
		return
	case "hang":
		s.record(name, 0)
		select {
		case <-r.Context().Done():
		case <-time.After(s.hang):
		}
		return
	}
	value, err := os.ReadFile(filepath.Join(s.dir, "values", name))
	if err != nil {
		s.record(name, http.StatusNotFound)
		http.Error(w, "secret-server: no value for this key", http.StatusNotFound)
		return
	}
	s.record(name, http.StatusOK)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(value)
}

func main() {
	dir := flag.String("dir", "", "control directory (values/, mode, requests.log)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "write the listening address here (default <dir>/addr)")
	hang := flag.Duration("hang", 60*time.Second, "longest a request waits in mode hang")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	if err := os.MkdirAll(filepath.Join(*dir, "values"), 0o700); err != nil {
		log.Fatal(err)
	}
	logFile, err := os.OpenFile(filepath.Join(*dir, "requests.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{dir: *dir, hang: *hang, logFile: logFile}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile == "" {
		*addrFile = filepath.Join(*dir, "addr")
	}
	// Written whole then renamed, so a reader never sees a partial address.
	if err := os.WriteFile(*addrFile+".tmp", []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(*addrFile+".tmp", *addrFile); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /secret", s.secret)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("secret-server: listening on %s, control directory %s", ln.Addr(), *dir)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
