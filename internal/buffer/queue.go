package buffer

import (
	"unsafe"

	"golang.org/x/sys/unix"
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

// WriteTo writes as much as the socket takes with a single write or
// writev, using iov as scratch space (len(iov) >= MaxIovecs avoids an
// allocation per call). It returns the bytes written; err is unix.EAGAIN
// when the socket buffer is full with bytes still queued.
func (q *Queue) WriteTo(fd int, iov []unix.Iovec) (int, error) {
	if q.n == 0 {
		return 0, nil
	}
	var n int
	var err error
	if len(q.chunks)-q.first == 1 {
		n, err = unix.Write(fd, q.chunks[q.first][q.head:])
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
			k++
		}
		n, err = writev(fd, iov[:k])
		clear(iov[:k]) // do not keep chunks reachable from the scratch space
	}
	if n < 0 {
		n = 0
	}
	q.consume(n)
	if err == nil && q.n > 0 {
		// A short write means the socket buffer is full.
		err = unix.EAGAIN
	}
	return n, err
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
	if q.first == len(q.chunks) {
		q.chunks = q.chunks[:0]
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

func writev(fd int, iov []unix.Iovec) (int, error) {
	for {
		n, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		switch e {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		default:
			return 0, e
		}
	}
}
