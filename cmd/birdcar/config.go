package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"birdcar/web"
)

// config is everything BirdCar reads from its environment.
type config struct {
	Port               int
	DatabaseURL        string
	DataDir            string
	MessageBirdAPIKey  string
	MessageBirdURL     string
	SigningKey         string
	PublicURL          string
	AdminUser          string
	AdminPassword      string
	APITokens          []string
	DefaultCountry     string
	GracePeriod        time.Duration
	AutoEndAfter       time.Duration
	Retention          time.Duration // 0 keeps texts and calls for ever
	EventsURL          string        // "" sends no events
	EventsSecret       string
	OutOfSessionWindow time.Duration
	OutOfSessionReply  string
	SendMaxAttempts    int
	PoolLowWatermark   int
	LogFormat          string // json, text, or "" (text in a terminal, else JSON)
	LogLevel           slog.Level
	MetricsToken       string
	MetricsAddr        string
	RiverWorkers       int
	WebhookConcurrency int
	MaxConnsPerIP      int
	TrustedProxies     []string
	// UnsignedWebhooks: live, with no signing key, by ALLOW_UNSIGNED_WEBHOOKS.
	UnsignedWebhooks bool
}

// defaultOutOfSessionReply is what a past party hears after their ride.
const defaultOutOfSessionReply = "This BirdCar ride has ended, so this number no longer reaches your driver. Please use the app to contact support."

// configError names the variable that stopped start-up.
type configError struct {
	Name, Value, Want string
}

func (e *configError) Error() string {
	return fmt.Sprintf("%s=%q is not valid: want %s", e.Name, e.Value, e.Want)
}

// loadConfig reads the process environment over an optional .env file
// (the environment wins, so a deployment can override a checked-out .env).
func loadConfig(environ []string, dotenvPath string) (config, error) {
	vars, err := readDotenv(dotenvPath)
	if err != nil {
		return config{}, err
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	get := func(name, def string) string {
		if v, ok := vars[name]; ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}

	cfg := config{
		DatabaseURL:       get("DATABASE_URL", ""),
		DataDir:           get("BIRDCAR_DATA_DIR", ".birdcar"),
		MessageBirdAPIKey: get("MESSAGEBIRD_API_KEY", ""),
		SigningKey:        get("MESSAGEBIRD_SIGNING_KEY", ""),
		AdminUser:         get("ADMIN_USER", "admin"),
		AdminPassword:     get("ADMIN_PASSWORD", ""),
	}
	if cfg.Port, err = intVar("PORT", get("PORT", "8080"), 1, 65535, "a port number from 1 to 65535"); err != nil {
		return config{}, err
	}
	if cfg.SendMaxAttempts, err = intVar("SEND_MAX_ATTEMPTS", get("SEND_MAX_ATTEMPTS", "25"), 1, 100, "a whole number from 1 to 100"); err != nil {
		return config{}, err
	}
	if cfg.PoolLowWatermark, err = intVar("POOL_LOW_WATERMARK", get("POOL_LOW_WATERMARK", "3"), 0, 1_000_000, "a whole number, 0 or more"); err != nil {
		return config{}, err
	}
	if cfg.RiverWorkers, err = intVar("RIVER_WORKERS", get("RIVER_WORKERS", "50"), 1, 10_000, "a whole number from 1 to 10000"); err != nil {
		return config{}, err
	}
	if cfg.WebhookConcurrency, err = intVar("WEBHOOK_CONCURRENCY", get("WEBHOOK_CONCURRENCY", "256"), 1, 100_000, "a whole number from 1 to 100000"); err != nil {
		return config{}, err
	}
	cfg.LogFormat = strings.ToLower(get("LOG_FORMAT", ""))
	if cfg.LogFormat != "" && cfg.LogFormat != "json" && cfg.LogFormat != "text" {
		return config{}, &configError{Name: "LOG_FORMAT", Value: cfg.LogFormat, Want: "json or text"}
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		return config{}, &configError{Name: "LOG_LEVEL", Value: get("LOG_LEVEL", ""), Want: "debug, info, warn or error"}
	}
	if cfg.MaxConnsPerIP, err = intVar("MAX_CONNS_PER_IP", get("MAX_CONNS_PER_IP", "512"), 0, 1_000_000, "a whole number, 0 (no cap) or more"); err != nil {
		return config{}, err
	}
	if cfg.MetricsToken = get("METRICS_TOKEN", ""); cfg.MetricsToken != "" && len(cfg.MetricsToken) < 16 {
		return config{}, &configError{Name: "METRICS_TOKEN", Value: "…", Want: "a token of at least 16 characters"}
	}
	for _, p := range strings.Split(get("TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			if _, err := netip.ParsePrefix(p); err != nil {
				return config{}, &configError{Name: "TRUSTED_PROXIES", Value: p, Want: "comma-separated IP addresses or CIDR ranges, such as 10.0.0.1,192.168.0.0/16"}
			}
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	if cfg.MetricsAddr = get("METRICS_ADDR", ""); cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			return config{}, &configError{Name: "METRICS_ADDR", Value: cfg.MetricsAddr, Want: "host:port, such as 127.0.0.1:9090"}
		}
	}
	if cfg.MessageBirdURL, err = urlVar("MESSAGEBIRD_BASE_URL", get("MESSAGEBIRD_BASE_URL", "https://rest.messagebird.com")); err != nil {
		return config{}, err
	}
	if cfg.PublicURL, err = urlVar("PUBLIC_URL", get("PUBLIC_URL", fmt.Sprintf("http://localhost:%d", cfg.Port))); err != nil {
		return config{}, err
	}
	for _, tok := range strings.Split(get("API_TOKENS", ""), ",") {
		if tok = strings.TrimSpace(tok); tok != "" {
			if len(tok) < 16 {
				return config{}, &configError{Name: "API_TOKENS", Value: "…", Want: "comma-separated tokens of at least 16 characters each"}
			}
			cfg.APITokens = append(cfg.APITokens, tok)
		}
	}
	cfg.DefaultCountry = strings.ToUpper(get("DEFAULT_COUNTRY", "NL"))
	if len(cfg.DefaultCountry) != 2 || strings.Trim(cfg.DefaultCountry, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return config{}, &configError{Name: "DEFAULT_COUNTRY", Value: cfg.DefaultCountry, Want: "a two-letter ISO country code such as NL"}
	}
	if cfg.GracePeriod, err = durationVar("RIDE_GRACE_PERIOD", get("RIDE_GRACE_PERIOD", "24h")); err != nil {
		return config{}, err
	}
	if cfg.AutoEndAfter, err = durationVar("RIDE_AUTO_END_AFTER", get("RIDE_AUTO_END_AFTER", "12h")); err != nil {
		return config{}, err
	}
	if cfg.Retention, err = durationVar("RETENTION_PERIOD", get("RETENTION_PERIOD", "90d")); err != nil {
		return config{}, err
	}
	if cfg.OutOfSessionWindow, err = durationVar("OUT_OF_SESSION_WINDOW", get("OUT_OF_SESSION_WINDOW", "7d")); err != nil {
		return config{}, err
	}
	cfg.OutOfSessionReply = get("OUT_OF_SESSION_REPLY", defaultOutOfSessionReply)
	if n := utf8.RuneCountInString(cfg.OutOfSessionReply); n > 300 || strings.ContainsAny(cfg.OutOfSessionReply, "\r\n") {
		return config{}, &configError{Name: "OUT_OF_SESSION_REPLY", Value: cfg.OutOfSessionReply, Want: "one line of at most 300 characters (empty: no reply)"}
	}
	if v := get("EVENTS_URL", ""); v != "" {
		if cfg.EventsURL, err = urlVar("EVENTS_URL", v); err != nil {
			return config{}, err
		}
		// Stripe's secrets are 32+ characters too: a short one can be guessed offline from one signed event.
		if cfg.EventsSecret = get("EVENTS_SECRET", ""); utf8.RuneCountInString(cfg.EventsSecret) < 32 {
			return config{}, &configError{Name: "EVENTS_SECRET", Value: "…", Want: "a secret of at least 32 characters, which signs the events sent to EVENTS_URL"}
		}
	}
	allowUnsigned, err := strconv.ParseBool(get("ALLOW_UNSIGNED_WEBHOOKS", "0"))
	if err != nil {
		return config{}, &configError{Name: "ALLOW_UNSIGNED_WEBHOOKS", Value: get("ALLOW_UNSIGNED_WEBHOOKS", ""), Want: "1 or 0"}
	}
	if live := cfg.live(); live != "" && cfg.SigningKey == "" {
		if !allowUnsigned {
			return config{}, fmt.Errorf("MESSAGEBIRD_SIGNING_KEY is not set, and BirdCar is live (%s): anyone could forge MessageBird's webhooks, unmask numbers and send SMS on your account. Set MESSAGEBIRD_SIGNING_KEY to the signing key from MessageBird's dashboard (Developers → Settings), or set ALLOW_UNSIGNED_WEBHOOKS=1 to accept unsigned webhooks all the same", live)
		}
		cfg.UnsignedWebhooks = true
	}
	return cfg, nil
}

// live says why BirdCar talks to the real MessageBird, which then reaches
// it over the internet, or "" when it does not: no API key (the sandbox
// sender) and a PUBLIC_URL on this machine.
func (cfg config) live() string {
	if cfg.MessageBirdAPIKey != "" {
		return "MESSAGEBIRD_API_KEY is set"
	}
	u, _ := url.Parse(cfg.PublicURL) // checked by urlVar
	if ip, err := netip.ParseAddr(u.Hostname()); u.Hostname() == "localhost" || (err == nil && ip.IsLoopback()) {
		return ""
	}
	return "PUBLIC_URL " + cfg.PublicURL + " is not on this machine"
}

// webServer is the web.Server of these settings; serve adds the rest.
func (cfg config) webServer() *web.Server {
	return &web.Server{
		Sandbox:          cfg.MessageBirdAPIKey == "",
		APITokens:        cfg.APITokens,
		SigningKey:       cfg.SigningKey,
		PublicURL:        cfg.PublicURL,
		SecureCookies:    strings.HasPrefix(cfg.PublicURL, "https://"),
		MetricsToken:     cfg.MetricsToken,
		TrustedProxies:   cfg.TrustedProxies,
		MaxConnsPerIP:    cfg.MaxConnsPerIP,
		UnsignedWebhooks: cfg.UnsignedWebhooks,

		WebhookConcurrency: cfg.WebhookConcurrency,
	}
}

// durationVar reads a Go duration ("24h", "90m") or whole days ("90d").
func durationVar(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if n > 36500 {
			err = strconv.ErrRange
		}
	}
	if err != nil || d < 0 {
		return 0, &configError{Name: name, Value: v, Want: "a duration such as 90d, 24h or 90m"}
	}
	return d, nil
}

func intVar(name, v string, lo, hi int, want string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &configError{Name: name, Value: v, Want: want}
	}
	return n, nil
}

func urlVar(name, v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &configError{Name: name, Value: v, Want: "an http:// or https:// URL"}
	}
	return strings.TrimRight(v, "/"), nil
}

// readDotenv parses KEY=VALUE lines; a missing file is no error.
func readDotenv(path string) (map[string]string, error) {
	vars := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return vars, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return nil, fmt.Errorf("%s line %d: want KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[strings.TrimSpace(k)] = v
	}
	return vars, sc.Err()
}
