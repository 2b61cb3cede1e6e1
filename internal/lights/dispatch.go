package lights

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/grantd/grantd/internal/lightsapi"
)

// Dispatcher sends queued webhook deliveries, signed with the webhook's
// secret (lightsapi.SignatureHeader). A failed delivery (no answer, or not
// 2xx) is retried after Backoff, doubling each time up to a minute, until
// MaxAttempts have failed; then it is dropped and logged.
type Dispatcher struct {
	Store      *Store
	HTTPClient *http.Client
	Now        func() time.Time
	// Poll is how often the queue is read for deliveries that another
	// process (`lightsd set`) queued; Notify wakes the dispatcher at once
	// for this process's own.
	Poll        time.Duration
	Backoff     time.Duration
	MaxAttempts int
	Logger      *slog.Logger

	once sync.Once
	wake chan struct{}
}

// Defaults of a Dispatcher's zero fields.
const (
	DefaultPoll        = time.Second
	DefaultBackoff     = time.Second
	DefaultMaxAttempts = 8
	maxBackoff         = time.Minute
	deliveryBatch      = 32
)

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Poll <= 0 {
			d.Poll = DefaultPoll
		}
		if d.Backoff <= 0 {
			d.Backoff = DefaultBackoff
		}
		if d.MaxAttempts <= 0 {
			d.MaxAttempts = DefaultMaxAttempts
		}
		if d.HTTPClient == nil {
			d.HTTPClient = &http.Client{Timeout: 5 * time.Second}
		}
	})
}

// Notify tells the dispatcher that deliveries were queued.
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends deliveries until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	for {
		if err := d.sendDue(ctx); err != nil && ctx.Err() == nil {
			d.Logger.ErrorContext(ctx, "webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-tick.C:
		}
	}
}

// sendDue sends every delivery due now, a batch at a time, concurrently.
func (d *Dispatcher) sendDue(ctx context.Context) error {
	for {
		due, err := d.Store.DueDeliveries(ctx, d.Now(), deliveryBatch)
		if err != nil || len(due) == 0 {
			return err
		}
		var wg sync.WaitGroup
		for _, dl := range due {
			wg.Go(func() { d.attempt(ctx, dl) })
		}
		wg.Wait()
		if len(due) < deliveryBatch {
			return nil
		}
	}
}

// attempt sends one delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, dl Delivery) {
	err := d.send(ctx, dl)
	if err == nil {
		d.finish(ctx, dl.ID)
		return
	}
	if dl.Attempts+1 >= d.MaxAttempts {
		d.Logger.WarnContext(ctx, "webhook delivery given up", "delivery", dl.ID, "url", dl.URL, "attempts", dl.Attempts+1, "err", err)
		d.finish(ctx, dl.ID)
		return
	}
	wait := min(d.Backoff<<dl.Attempts, maxBackoff)
	d.Logger.InfoContext(ctx, "webhook delivery failed, will retry", "delivery", dl.ID, "url", dl.URL, "in", wait, "err", err)
	if err := d.Store.RetryDelivery(ctx, dl.ID, d.Now().Add(wait)); err != nil {
		d.Logger.ErrorContext(ctx, "webhook delivery", "err", err)
	}
	// Wake up when it is due: the poll may be slower than the backoff.
	time.AfterFunc(wait, d.Notify)
}

func (d *Dispatcher) finish(ctx context.Context, id int64) {
	if err := d.Store.FinishDelivery(ctx, id); err != nil {
		d.Logger.ErrorContext(ctx, "webhook delivery", "err", err)
	}
}

// send POSTs the delivery's body, signed.
func (d *Dispatcher) send(ctx context.Context, dl Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.URL, bytes.NewReader(dl.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(lightsapi.SignatureHeader, lightsapi.Sign([]byte(dl.Secret), d.Now(), dl.Body))
	resp, err := d.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
