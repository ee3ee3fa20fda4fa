package worker

import "sync"

// batch is how many items a Serial handles before it goes to the back of
// the Pool's FIFO, so one busy connection cannot hold a worker while
// others wait.
const batch = 16

// Serial is a FIFO of items handled by fn one at a time, in order, on a
// Pool. It is scheduled on the Pool at most once at a time, which is what
// keeps one connection's messages (and so its replies) in order while
// different connections run in parallel.
//
// Push reports when the Serial holds limit items or more; the producer then
// stops producing (an event loop stops reading the connection) and asks
// for a Notify, which arrives once the Serial has drained to half the
// limit. Nothing is ever dropped and Push never blocks.
type Serial[T any] struct {
	pool   *Pool
	fn     func(T)
	notify func()
	limit  int

	mu       sync.Mutex
	items    []T // ring buffer
	head, n  int
	running  bool // scheduled on the pool or running now
	wantLow  bool // notify when n <= limit/2
	wantIdle bool // notify when n == 0 and not running
}

// NewSerial returns an empty Serial. fn handles each item on a pool
// worker; notify is called on a pool worker, outside any lock, when a
// condition asked for with Push's full result or WhenIdle is met.
func NewSerial[T any](pool *Pool, limit int, fn func(T), notify func()) *Serial[T] {
	if limit < 1 {
		limit = 1
	}
	return &Serial[T]{pool: pool, fn: fn, notify: notify, limit: limit}
}

// Push appends v and schedules the Serial if it is not running. It returns
// true when the Serial now holds limit or more items; the caller should
// stop pushing until notify is called. Any goroutine may call it.
func (s *Serial[T]) Push(v T) (full bool) {
	s.mu.Lock()
	if s.n == len(s.items) {
		grown := make([]T, max(1, 2*len(s.items)))
		for i := range s.n {
			grown[i] = s.items[(s.head+i)%len(s.items)]
		}
		s.items, s.head = grown, 0
	}
	s.items[(s.head+s.n)%len(s.items)] = v
	s.n++
	s.pool.queued.Add(1)
	full = s.n >= s.limit
	if full {
		s.wantLow = true
	}
	schedule := !s.running
	s.running = true
	s.mu.Unlock()
	if schedule {
		s.pool.submit(s, false)
	}
	return full
}

// Len is the number of items not yet handled (the one being handled is
// not counted). Any goroutine may call it.
func (s *Serial[T]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Idle reports whether the Serial is empty and not running. Any goroutine
// may call it.
func (s *Serial[T]) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n == 0 && !s.running
}

// WhenIdle reports whether the Serial is idle (empty and not running). If
// it is not, notify will be called once it becomes idle. Any goroutine may
// call it.
func (s *Serial[T]) WhenIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 && !s.running {
		return true
	}
	s.wantIdle = true
	return false
}

// run handles up to batch items. It implements runner.
func (s *Serial[T]) run() bool {
	var zero T
	for range batch {
		s.mu.Lock()
		if s.n == 0 {
			s.running = false
			call := s.wantIdle || s.wantLow
			s.wantIdle, s.wantLow = false, false
			s.mu.Unlock()
			if call {
				s.notify()
			}
			return false
		}
		v := s.items[s.head]
		s.items[s.head] = zero
		s.head = (s.head + 1) % len(s.items)
		s.n--
		s.pool.queued.Add(-1)
		call := s.wantLow && s.n <= s.limit/2
		if call {
			s.wantLow = false
		}
		s.mu.Unlock()
		if call {
			s.notify()
		}
		s.fn(v)
	}
	return true
}
