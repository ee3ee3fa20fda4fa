package buffer

import (
	"syscall"

	"github.com/simple-server/simpleserver/internal/sock"
)

// MaxIovecs bounds the chunks one writev passes; Linux's IOV_MAX is 1024.
const MaxIovecs = 1024

// firstChunk is the size of a queue's first chunk: most replies are small,
// so a connection with one short reply in flight holds 512 bytes, not 64 KiB.
const firstChunk = 1 << minShift

// Queue is a FIFO of bytes waiting for a socket. Appends copy into pooled
// chunks that grow geometrically; WriteTo hands up to MaxIovecs of them to
// one writev and returns drained chunks to their pools at once.
//
// A Queue is not safe for concurrent use; its owner serializes access.
type Queue struct {
	chunks [][]byte // chunks[first][head:] is the first unsent byte
	first  int
	head   int
	n      int
}

// Len is the number of bytes not yet written.
func (q *Queue) Len() int { return q.n }

// Append copies p to the end of the queue.
func (q *Queue) Append(p []byte) {
	q.n += len(p)
	if k := len(q.chunks); k > q.first {
		last := q.chunks[k-1]
		m := copy(last[len(last):cap(last)], p)
		q.chunks[k-1] = last[:len(last)+m]
		p = p[m:]
	}
	for len(p) > 0 {
		size := firstChunk
		if k := len(q.chunks); k > q.first {
			size = min(2*cap(q.chunks[k-1]), MaxPooled)
		}
		c := Get(max(size, min(len(p), MaxPooled)))
		m := copy(c[:cap(c)], p)
		q.chunks = append(q.chunks, c[:m])
		p = p[m:]
	}
}

// WriteTo writes as much as the socket takes, with one writev per
// MaxIovecs chunks, or as many as iov (the caller's scratch space) holds;
// with fewer than two, each chunk takes a write of its own. It returns the
// bytes written; err is syscall.EAGAIN when the socket buffer is full with
// bytes still queued, and only then.
func (q *Queue) WriteTo(fd int, iov []sock.Iovec) (int, error) {
	total := 0
	for q.n > 0 {
		var n, offered int
		var err error
		if len(q.chunks)-q.first == 1 || len(iov) < 2 {
			b := q.chunks[q.first][q.head:]
			offered = len(b)
			n, err = sock.Write(fd, b)
		} else {
			k := 0
			for i, c := range q.chunks[q.first:] {
				if k == len(iov) || k == MaxIovecs {
					break
				}
				if i == 0 {
					c = c[q.head:]
				}
				iov[k].Base = &c[0]
				iov[k].SetLen(len(c))
				offered += len(c)
				k++
			}
			n, err = sock.Writev(fd, iov[:k], offered)
			clear(iov[:k]) // do not keep chunks reachable from the scratch space
		}
		if n > 0 {
			q.consume(n)
			total += n
		}
		switch {
		case err == syscall.EINTR:
		case err != nil:
			return total, err
		case n < offered:
			// A short write means the socket buffer is full.
			return total, syscall.EAGAIN
		}
	}
	return total, nil
}

// consume drops n written bytes from the front, releasing drained chunks.
// The chunk list itself is kept for reuse once empty, so a connection that
// answers request after request does not allocate for it.
func (q *Queue) consume(n int) {
	q.n -= n
	for n > 0 {
		c := q.chunks[q.first]
		rest := len(c) - q.head
		if n < rest {
			q.head += n
			return
		}
		n -= rest
		Put(c)
		q.chunks[q.first] = nil
		q.first++
		q.head = 0
	}
	switch {
	case q.first == len(q.chunks):
		q.chunks = q.chunks[:0]
		q.first = 0
	case q.first >= 32 && 2*q.first >= len(q.chunks):
		// A queue that never quite drains would otherwise grow a dead
		// prefix forever.
		k := copy(q.chunks, q.chunks[q.first:])
		clear(q.chunks[k:])
		q.chunks = q.chunks[:k]
		q.first = 0
	}
}

// Reset drops everything queued and releases the chunks.
func (q *Queue) Reset() {
	for _, c := range q.chunks[q.first:] {
		Put(c)
	}
	*q = Queue{}
}
