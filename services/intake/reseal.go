package intake

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Re-sealing after a key rotation (deploy/README.md, "Rotating the
// payload-codec key"): everything the intake stores sealed under an older
// key is opened and sealed again under the ring's active key, so that the
// old key can leave the ring without waiting for the retention purge. Rows
// are taken in batches with SKIP LOCKED and each row is rewritten only if it
// still holds what was read, so it is safe next to a running intake.

// ResealStats counts what Reseal rewrote.
type ResealStats struct {
	Requests, Uploads, Announcements int
}

const (
	qResealRequests = `-- name: RequestsSealedWithOtherKeys
SELECT id, personal_key_id, personal_nonce, personal_sealed FROM requests
WHERE purged_at IS NULL AND personal_key_id <> $1
ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`
	qResealRequest = `-- name: ResealRequest
UPDATE requests SET personal_key_id = $2, personal_nonce = $3, personal_sealed = $4
WHERE id = $1 AND personal_key_id = $5`
	qResealUploads = `-- name: UploadsSealedWithOtherKeys
SELECT id, key_id, nonce, sealed FROM uploads WHERE key_id <> $1
ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`
	qResealUpload = `-- name: ResealUpload
UPDATE uploads SET key_id = $2, nonce = $3, sealed = $4 WHERE id = $1 AND key_id = $5`
	// Outbox payloads are RequestSubmitted events whose personal data is a
	// sealed envelope; the key id is inside the protobuf, so every row is
	// read, in id order.
	qResealOutbox = `-- name: OutboxAfter
SELECT id, payload FROM outbox WHERE id > $1 AND msg_type = 'dsr.v1.RequestSubmitted'
ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`
	qResealAnnouncement = `-- name: ResealAnnouncement
UPDATE outbox SET payload = $2 WHERE id = $1 AND payload = $3`
)

const resealBatch = 200

var personalAAD = []byte(string((&dsrv1.PersonalData{}).ProtoReflect().Descriptor().FullName()))

// Reseal rewrites every request, upload and announcement sealed with a key
// other than the active one, and reports how many of each it rewrote.
func (s *Service) Reseal(ctx context.Context) (ResealStats, error) {
	var st ResealStats
	active := s.Ring.ActiveKeyID()
	reseal := func(name, selectQ, updateQ string, aad func(id string) []byte, count *int) error {
		for {
			n := 0
			err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, selectQ, active, resealBatch)
				if err != nil {
					return err
				}
				type sealedRow struct {
					id, keyID     string
					nonce, sealed []byte
				}
				batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedRow, error) {
					var x sealedRow
					err := r.Scan(&x.id, &x.keyID, &x.nonce, &x.sealed)
					return x, err
				})
				if err != nil {
					return err
				}
				for _, x := range batch {
					pt, err := s.Ring.Open(x.keyID, x.nonce, x.sealed, aad(x.id))
					if err != nil {
						return fmt.Errorf("open %s %s (key %s): %w", name, x.id, x.keyID, err)
					}
					keyID, nonce, ct, err := s.Ring.Seal(pt, aad(x.id))
					if err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, updateQ, x.id, keyID, nonce, ct, x.keyID); err != nil {
						return err
					}
				}
				n = len(batch)
				return nil
			})
			if err != nil {
				return fmt.Errorf("intake: reseal %s: %w", name, err)
			}
			*count += n
			if n < resealBatch {
				return nil
			}
		}
	}
	if err := reseal("requests", qResealRequests, qResealRequest, func(string) []byte { return personalAAD }, &st.Requests); err != nil {
		return st, err
	}
	if err := reseal("uploads", qResealUploads, qResealUpload, uploadAAD, &st.Uploads); err != nil {
		return st, err
	}
	n, err := s.resealAnnouncements(ctx, s.payloads().ActiveKeyID())
	st.Announcements = n
	return st, err
}

func (s *Service) resealAnnouncements(ctx context.Context, active string) (int, error) {
	var after int64
	total := 0
	for {
		read := 0
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, qResealOutbox, after, resealBatch)
			if err != nil {
				return err
			}
			type row struct {
				id      int64
				payload []byte
			}
			batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				err := r.Scan(&x.id, &x.payload)
				return x, err
			})
			if err != nil {
				return err
			}
			read = len(batch)
			for _, x := range batch {
				after = x.id
				var ev dsrv1.RequestSubmitted
				if err := proto.Unmarshal(x.payload, &ev); err != nil {
					return fmt.Errorf("outbox row %d: %w", x.id, err)
				}
				if ev.GetPersonal() == nil || ev.GetPersonal().GetKeyId() == active {
					continue
				}
				var pd dsrv1.PersonalData
				if err := s.payloads().OpenMessage(ev.GetPersonal(), &pd); err != nil {
					return fmt.Errorf("outbox row %d (key %s): %w", x.id, ev.GetPersonal().GetKeyId(), err)
				}
				sealed, err := s.payloads().Message(&pd)
				if err != nil {
					return err
				}
				ev.Personal = sealed
				payload, err := proto.Marshal(&ev)
				if err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, qResealAnnouncement, x.id, payload, x.payload)
				if err != nil {
					return err
				}
				total += int(tag.RowsAffected())
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("intake: reseal announcements: %w", err)
		}
		if read < resealBatch {
			return total, nil
		}
	}
}
