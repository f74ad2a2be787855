// The seed's two Go servers (../shared/seed/article.md) in one program, for
// `deno task bench`: the same handlers, logging and 5-byte UDP buffer; only
// the ports are flags, and -quiet discards the log for the quiet scenarios.
// The seed's UDP reply sends the whole buffer; with the bench's 5-byte
// payloads that is exactly this datagram's bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

var dead = 10 * time.Second

func main() {
	tcpPort := flag.Int("tcp", 8000, "TCP port")
	udpPort := flag.Int("udp", 6000, "UDP port")
	quiet := flag.Bool("quiet", false, "discard the log")
	flag.Parse()
	if *quiet {
		log.SetOutput(io.Discard)
	}
	go runTCP(*tcpPort)
	go runUDP(*udpPort)
	termCh := make(chan os.Signal, 1)
	signal.Notify(termCh, syscall.SIGTERM, syscall.SIGINT)
	<-termCh
}

func runTCP(port int) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: port})
	if err != nil {
		log.Fatal(err)
	}
	log.Println("Starting tcp server...")
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func() {
			handle(conn)
			fmt.Fprintln(os.Stderr, "connection is disconnected ")
		}()
	}
}

func handle(conn net.Conn) error {
	err := conn.SetDeadline(time.Now().Add(dead))
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		t, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		log.Printf("Receiving data: %v from %s", strings.TrimSuffix(t, "\n"), conn.RemoteAddr().String())
		log.Printf("Sending data..")
		conn.Write([]byte(fmt.Sprintf("received msg: %s\n", strings.TrimSuffix(t, "\n"))))
		log.Printf("Complete Sending data..")
	}
}

var mux sync.RWMutex
var buf = make([]byte, 5)

func runUDP(port int) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: port})
	if err != nil {
		log.Fatal(err)
	}
	log.Println("Starting udp server...")
	for {
		handleUDP(ln)
	}
}

func handleUDP(ln *net.UDPConn) error {
	mux.Lock()
	defer mux.Unlock()
	n, addr, err := ln.ReadFromUDP(buf)
	if err != nil {
		return err
	}
	log.Printf("Receiving data: %s from %s", string(buf[:n]), addr.String())
	log.Printf("Sending data..")
	ln.WriteTo([]byte(fmt.Sprintf("received msg: %v\n", string(buf))), addr)
	log.Printf("Complete Sending data..")
	return nil
}
