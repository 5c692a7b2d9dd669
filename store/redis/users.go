package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

var errEmptyID = errors.New("empty id")

// existing reports for each key whether it exists, in one round trip.
func existing(ctx context.Context, c goredis.Cmdable, keys ...string) ([]bool, error) {
	cmds := make([]*goredis.IntCmd, len(keys))
	_, err := c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = pipe.Exists(ctx, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	found := make([]bool, len(keys))
	for i, cmd := range cmds {
		found[i] = cmd.Val() > 0
	}
	return found, nil
}

// CreateUser implements store.Users. The partner must exist; checking it in
// the transaction keeps a user from outliving a concurrent DeletePartner.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := s.createUser(ctx, u); err != nil {
		return fmt.Errorf("create user %q: %w", u.ID, err)
	}
	return nil
}

func (s *Store) createUser(ctx context.Context, u store.User) error {
	k, err := scopeOf(u.PartnerID)
	if err != nil {
		return err
	}
	if u.ID == "" {
		return errEmptyID
	}
	// A new user belongs to no group yet, whatever the caller says.
	u.Groups = nil
	raw, err := encode(u)
	if err != nil {
		return err
	}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		var partner, user, email *goredis.IntCmd
		_, err := tx.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
			partner = pipe.Exists(ctx, k.partner())
			user = pipe.Exists(ctx, k.user(u.ID))
			email = pipe.Exists(ctx, k.email(u.Email))
			return nil
		})
		switch {
		case err != nil:
			return err
		case partner.Val() == 0:
			return fmt.Errorf("partner %q: %w", u.PartnerID, store.ErrNotFound)
		case user.Val() > 0:
			return store.ErrAlreadyExists
		case email.Val() > 0:
			return fmt.Errorf("email %q: %w", u.Email, store.ErrAlreadyExists)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.user(u.ID), raw, 0)
			pipe.Set(ctx, k.email(u.Email), u.ID, 0)
			pipe.ZAdd(ctx, k.users(), goredis.Z{Member: u.ID})
			return nil
		})
		return err
	}, k.partner(), k.user(u.ID), k.email(u.Email))
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, partnerID, id string) (store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", id, err)
	}
	u, err := getJSON[store.User](ctx, s.client, k.user(id))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", id, err)
	}
	return u, nil
}

// GetUserByEmail implements store.Users.
func (s *Store) GetUserByEmail(ctx context.Context, partnerID, email string) (store.User, error) {
	u, err := s.getUserByEmail(ctx, partnerID, email)
	if err != nil {
		return store.User{}, fmt.Errorf("get user by email %q: %w", email, err)
	}
	return u, nil
}

func (s *Store) getUserByEmail(ctx context.Context, partnerID, email string) (store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.User{}, err
	}
	id, err := s.client.Get(ctx, k.email(email)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, classify(err)
	}
	u, err := getJSON[store.User](ctx, s.client, k.user(id))
	if err != nil {
		return store.User{}, err
	}
	// The two reads are not atomic: the user may have changed email in
	// between, and then no longer answers to this one.
	if !strings.EqualFold(u.Email, email) {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context, partnerID string, page store.Page) ([]store.User, error) {
	k, err := scopeOf(partnerID)
	if err == nil {
		err = page.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := listPage[store.User](ctx, s.client, k.users(), k.user, page)
	if err != nil {
		return nil, fmt.Errorf("list users of %q: %w", partnerID, err)
	}
	return users, nil
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, partnerID, id string, fn func(store.User) (store.User, error)) (store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q: %w", id, err)
	}
	var next store.User
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getJSON[store.User](ctx, tx, k.user(id))
		if err != nil {
			return err
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIDChanged
		}
		// Memberships change only through the group calls.
		next.Groups = cur.Groups
		raw, err := encode(next)
		if err != nil {
			return err
		}
		oldEmail, newEmail := k.email(cur.Email), k.email(next.Email)
		if newEmail != oldEmail {
			// Watched before they are read, so a concurrent claim of the
			// address aborts EXEC, and so does DeletePartner: a key
			// created behind its sweep would outlive the partner.
			if err := tx.Watch(ctx, newEmail, k.partner()).Err(); err != nil {
				return err
			}
			found, err := existing(ctx, tx, k.partner(), newEmail)
			switch {
			case err != nil:
				return err
			case !found[0]:
				return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
			case found[1]:
				return fmt.Errorf("email %q: %w", next.Email, store.ErrAlreadyExists)
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.user(id), raw, 0)
			if newEmail != oldEmail {
				pipe.Del(ctx, oldEmail)
				pipe.Set(ctx, newEmail, id, 0)
			}
			return nil
		})
		return err
	}, k.user(id))
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q: %w", id, err)
	}
	return next, nil
}

// DeleteUser implements store.Users.
func (s *Store) DeleteUser(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	// Watching the session set makes a session created meanwhile abort
	// EXEC, so none survives its user.
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		u, err := getJSON[store.User](ctx, tx, k.user(id))
		if err != nil {
			return err
		}
		sids, err := tx.SMembers(ctx, k.userSessions(id)).Result()
		if err != nil {
			return err
		}
		// The email key changes only together with the watched user key,
		// so it still names this user.
		keys := []string{k.user(id), k.email(u.Email), k.userSessions(id)}
		for _, sid := range sids {
			keys = append(keys, k.session(sid))
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, keys...)
			pipe.ZRem(ctx, k.users(), id)
			// Every membership change rewrites the watched user key, so
			// u.Groups is current.
			for _, gid := range u.Groups {
				pipe.ZRem(ctx, k.groupMembers(gid), id)
			}
			return nil
		})
		return err
	}, k.user(id), k.userSessions(id))
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	return nil
}
