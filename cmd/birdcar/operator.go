package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"birdcar/sql/admin"
	"birdcar/sql/ride"
	"birdcar/web/obs"
)

// operatorPasswordEnv names the variable birdcar operator add takes the
// password from; without it the password is the first line of stdin (a
// flag would show it in the process list and the shell's history).
const operatorPasswordEnv = "OPERATOR_PASSWORD"

// operatorCommand runs `birdcar operator add`: it adds a console operator
// to the database the configuration names, as BirdCar's own change
// (recorded in the audit log as "birdcar operator add").
func operatorCommand(ctx context.Context, args, environ []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("usage: birdcar operator add --username U --name \"N\" [--role viewer|dispatcher|admin]\n%s", usage)
	}
	fs := flag.NewFlagSet("birdcar operator add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	username := fs.String("username", "", "what they log in with")
	name := fs.String("name", "", "their name, shown in the console and the audit log")
	role := fs.String("role", string(admin.RoleViewer), "viewer, dispatcher or admin")
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return nil
	} else if err != nil || fs.NArg() > 0 {
		return fmt.Errorf("bad arguments %q\n%s", strings.Join(args, " "), usage)
	}
	if *username == "" {
		return errors.New("operator add: --username is required")
	}
	if *name == "" {
		*name = *username
	}
	r, err := admin.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("operator add: --role %q: want viewer, dispatcher or admin", *role)
	}
	cfg, err := loadConfig(environ, ".env")
	if err != nil {
		return err
	}
	password, ok := lookupEnv(environ, operatorPasswordEnv)
	if !ok {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("operator add: read the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return fmt.Errorf("operator add: no password: set %s or give it on stdin", operatorPasswordEnv)
	}

	logger := slog.New(obs.NewLogHandler(io.Discard, cfg.LogFormat, cfg.LogLevel))
	pool, stopDB, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopDB()
	svc := &admin.Service{DB: pool}
	ctx = ride.WithActor(ctx, ride.Actor{Kind: ride.ActorSystem, Name: "birdcar operator add"})
	op, err := svc.AddOperator(ctx, admin.NewOperator{Name: *name, Username: *username, Role: r, Password: password})
	if e := ride.AsError(err); e != nil {
		return fmt.Errorf("operator add: %s", e.Message)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added operator %s (%s) as %s.\n", op.Username, op.Name, op.Role)
	return nil
}

// lookupEnv finds a variable in environ, as os.LookupEnv does in the
// process's.
func lookupEnv(environ []string, name string) (string, bool) {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
