package intake

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// formData is a parsed form or multipart API call: its text fields and the
// files, read into memory with per-file limits (no temporary files: an
// unsealed copy of an ID document must never land on disk).
type formData struct {
	Values url.Values
	// Files by field name; a file over the limit is cut at MaxDocumentSize+1
	// bytes so that validation reports it as too large.
	Files map[string][]byte
}

// maxField bounds one text field of a multipart body.
const maxField = maxBody

var errBadForm = errors.New("malformed form")

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// parseForm reads an application/x-www-form-urlencoded or multipart/form-data body.
func parseForm(w http.ResponseWriter, r *http.Request) (formData, error) {
	fd := formData{Values: url.Values{}, Files: map[string][]byte{}}
	if !isMultipart(r) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			return fd, err
		}
		fd.Values = r.PostForm
		return fd, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxMultipart)
	mr, err := r.MultipartReader()
	if err != nil {
		return fd, errBadForm
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fd, nil
		}
		if err != nil {
			return fd, err
		}
		name := p.FormName()
		if name == "" {
			_ = p.Close()
			continue
		}
		if p.FileName() != "" || strings.HasPrefix(name, "doc_") {
			b, err := io.ReadAll(io.LimitReader(p, MaxDocumentSize+1))
			if err != nil {
				return fd, err
			}
			if _, err := io.Copy(io.Discard, p); err != nil {
				return fd, err
			}
			// An empty file input sends an empty part without a name.
			if len(b) > 0 || p.FileName() != "" {
				fd.Files[name] = b
			}
			_ = p.Close()
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, maxField+1))
		if err != nil {
			return fd, err
		}
		if len(b) > maxField {
			return fd, &http.MaxBytesError{Limit: maxField}
		}
		fd.Values.Add(name, string(b))
		_ = p.Close()
	}
}

// documents turns the uploaded files (doc_<purpose>) and the claims of
// files kept from an earlier attempt (kept_<purpose>) into Documents; a new
// file replaces a kept one.
func (fd formData) documents() []Document {
	var docs []Document
	for _, purpose := range DocumentPurposes {
		if b, ok := fd.Files["doc_"+purpose]; ok {
			docs = append(docs, Document{Purpose: purpose, Content: b})
		} else if tok := strings.TrimSpace(fd.Values.Get("kept_" + purpose)); tok != "" {
			docs = append(docs, Document{Purpose: purpose, Pending: tok})
		}
	}
	return docs
}
