package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's Chromium headless through the DevTools
// protocol with chromedp: pure Go (no Node, no browser download at test
// time), so `go test` alone runs them against the machine's /usr/bin/chromium,
// which scripts/ensure-deps installs when it is missing.

// browserShotDir is test-output/screenshots at the repository root (git-ignored).
func browserShotDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "test-output", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromiumPath finds the browser; CHROMIUM overrides.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium not found: install it with scripts/ensure-deps (make test runs it) or `apt-get install chromium`, or set CHROMIUM")
}

const viewportW, viewportH = 1280, 900

// browser is one headless Chromium with a fresh profile, for one test.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
}

// newBrowser starts Chromium in the person's language (its own widgets,
// such as the file chooser, and Accept-Language follow it).
func newBrowser(t *testing.T, lang string) *browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		// Never skipped: the browser tests are part of make test.
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportW, viewportH),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("lang", lang),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportW, viewportH)); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return &browser{t: t, ctx: ctx, dir: browserShotDir(t)}
}

// run performs actions, failing the test with what was being done.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("FAILED-" + sanitize(b.t.Name()))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs an action that returns a value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.shot("FAILED-" + sanitize(b.t.Name()))
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// css is a CSS selector (a plain string would be a DevTools search).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func sanitize(s string) string {
	return regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(s, "_")
}

// shot saves a full-page screenshot at normal size.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot %s", file)
}

// shots saves the page at normal size and at 200% zoom: the same CSS
// viewport halved, drawn at twice the pixel density, which is what a
// browser's 200% zoom does to the layout.
func (b *browser) shots(name string) {
	b.t.Helper()
	b.shot(name)
	b.run("zoom to 200%", chromedp.EmulateViewport(viewportW/2, viewportH/2, chromedp.EmulateScale(2)),
		chromedp.Sleep(150*time.Millisecond))
	// At 200% nothing may need sideways scrolling (WCAG 1.4.10 reflow).
	overflow := get(b, "measure", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`))
	b.shot(name + "@200")
	b.run("zoom back", chromedp.EmulateViewport(viewportW, viewportH))
	if overflow {
		b.t.Errorf("%s: the page scrolls sideways at 200%% zoom", name)
	}
}

// text reads the visible text of the first element matching sel.
// text reads an element's text. A page that is replacing its content (the
// status page refreshes itself) can drop the node between lookup and read:
// read again rather than fail.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var last error
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			return strings.TrimSpace(v)
		}
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	b.shot("FAILED-" + sanitize(b.t.Name()))
	b.t.Fatalf("read %s: %v", sel, last)
	return ""
}

// waitPage reloads url until the JavaScript condition holds.
func (b *browser) waitPage(url, cond, what string) {
	b.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		b.run("open "+what, chromedp.Navigate(url), chromedp.WaitReady(css("body")))
		if get(b, "check "+what, chromedp.Evaluate[bool](cond)) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.shot("FAILED-" + sanitize(b.t.Name()))
	b.t.Fatalf("page never showed %s", what)
}

// waitStage reloads the status page until it shows stage.
func (b *browser) waitStage(url, stage string) {
	b.t.Helper()
	b.waitPage(url, `(function(){var e=document.getElementById("stage");return !!e && e.dataset.stage===`+
		fmt.Sprintf("%q", stage)+`})()`, "stage "+stage)
}

// submit clicks a form's button and waits for the page it leads to (a
// new document, fully loaded), so that nothing navigates away from a form
// still being sent.
func (b *browser) submit(button string) {
	b.t.Helper()
	b.run("send "+button,
		chromedp.Evaluate[chromedp.Void](`window.__madoguchiOld = true`),
		chromedp.Click(css(button)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			// Evaluation fails while the old document is torn down: retry.
			isNew := chromedp.Evaluate[bool](`!window.__madoguchiOld && document.readyState === "complete"`)
			for {
				if ok, err := isNew(ctx, t); err == nil && ok {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}))
}

// evalString and evalBool evaluate a JavaScript expression.
func (b *browser) evalString(expr string) string {
	b.t.Helper()
	return get(b, "evaluate "+expr, chromedp.Evaluate[string](expr))
}

func (b *browser) evalBool(expr string) bool {
	b.t.Helper()
	return get(b, "evaluate "+expr, chromedp.Evaluate[bool](expr))
}

// containsAll fails the test for each missing text.
func (b *browser) containsAll(sel string, wants ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range wants {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s lacks %q; it reads:\n%s", sel, w, got)
		}
	}
}

var (
	mailCodeRE   = regexp.MustCompile(`(?:確認コード：|Verification code: )(\d{6})`)
	statusLinkRE = regexp.MustCompile(`https?://[^\s]+/status/[0-9a-f]{64}`)
	downloadRE   = regexp.MustCompile(`https?://[^\s]+/download/[0-9a-f]{64}`)
	// downloadCodeRE finds the code that opens a disclosure package.
	downloadCodeRE = regexp.MustCompile(`(?:ダウンロード用コード：|Download code: )(\d{6})\b`)
)

// mails returns the texts of the messages to addr matching re, newest first.
func mails(ctx context.Context, addr string, re *regexp.Regexp) []string {
	msgs, err := stk.Mail.Messages(ctx, fmt.Sprintf("to:%q", addr))
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range msgs {
		text, err := stk.Mail.MessageText(ctx, m.ID)
		if err == nil && re.MatchString(text) {
			out = append(out, text)
		}
	}
	return out
}

// waitMail waits until more than `seen` messages to addr match re and
// returns the newest match's first group (or whole match).
func waitMail(t *testing.T, addr string, re *regexp.Regexp, seen int) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		if texts := mails(ctx, addr, re); len(texts) > seen {
			m := re.FindStringSubmatch(texts[0])
			if len(m) > 1 {
				return m[1], len(texts)
			}
			return m[0], len(texts)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no new e-mail to %s matching %s", addr, re)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// byID selects an element by id (ids here contain dots).
func byID(id string) chromedp.CSS { return css(`[id="` + id + `"]`) }
