package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// emailKey is an email's index key: emails are unique case-insensitively,
// and alt emails are found case-insensitively.
func emailKey(email string) []byte { return []byte(strings.ToLower(email)) }

// userIndexes are the unique indexes of users.
var userIndexes = []uniqueIndex[store.User]{
	{bucketEmails, "email", func(u store.User) []byte { return emailKey(u.Email) }},
	{bucketUserNames, "user name", func(u store.User) []byte { return optionalKey(strings.ToLower(u.UserName)) }},
	{bucketExternalIDs, "external id", func(u store.User) []byte { return optionalKey(u.ExternalID) }},
}

// reindexUser moves user id's entries in every index from what cur holds
// to what next holds; nil stands for no user, as in reindex.
func reindexUser(tx *bbolt.Tx, partnerID, id string, cur, next *store.User) error {
	if err := reindex(tx, partnerID, id, userIndexes, cur, next); err != nil {
		return err
	}
	var from, to []string
	if cur != nil {
		from = cur.AltEmails
	}
	if next != nil {
		to = next.AltEmails
	}
	return reindexAltEmails(tx, partnerID, id, from, to)
}

func utcUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u
}

// CreateUser implements store.Users. The partner must exist: a user written
// while its partner is deleted would resurface in a partner later created
// under the same id.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error { return createUser(tx, u) })
	if err != nil {
		return fmt.Errorf("create user %q in partner %q: %w", u.ID, u.PartnerID, err)
	}
	return nil
}

func createUser(tx *bbolt.Tx, u store.User) error {
	if tx.Bucket(bucketPartners).Get([]byte(u.PartnerID)) == nil {
		return fmt.Errorf("partner %q: %w", u.PartnerID, store.ErrNotFound)
	}
	users, err := nestedForWrite(tx, bucketUsers, u.PartnerID)
	if err != nil {
		return err
	}
	if users.Get([]byte(u.ID)) != nil {
		return store.ErrAlreadyExists
	}
	// A new user belongs to no group yet, whatever the caller says.
	u.Groups = nil
	if err := reindexUser(tx, u.PartnerID, u.ID, nil, &u); err != nil {
		return err
	}
	return putJSON(users, u.ID, utcUser(u))
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, partnerID, id string) (store.User, error) {
	var u store.User
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(nested(tx, bucketUsers, partnerID), id, &u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q in partner %q: %w", id, partnerID, err)
	}
	return u, nil
}

// GetUserByEmail implements store.Users.
func (s *Store) GetUserByEmail(ctx context.Context, partnerID, email string) (store.User, error) {
	u, err := s.userByIndex(ctx, bucketEmails, partnerID, emailKey(email))
	if err != nil {
		return store.User{}, fmt.Errorf("get user by email %q in partner %q: %w", email, partnerID, err)
	}
	return u, nil
}

// GetUserByUserName implements store.Users.
func (s *Store) GetUserByUserName(ctx context.Context, partnerID, userName string) (store.User, error) {
	u, err := s.userByIndex(ctx, bucketUserNames, partnerID, []byte(strings.ToLower(userName)))
	if err != nil {
		return store.User{}, fmt.Errorf("get user by user name %q in partner %q: %w", userName, partnerID, err)
	}
	return u, nil
}

// GetUserByExternalID implements store.Users.
func (s *Store) GetUserByExternalID(ctx context.Context, partnerID, externalID string) (store.User, error) {
	u, err := s.userByIndex(ctx, bucketExternalIDs, partnerID, []byte(externalID))
	if err != nil {
		return store.User{}, fmt.Errorf("get user by external id %q in partner %q: %w", externalID, partnerID, err)
	}
	return u, nil
}

func (s *Store) userByIndex(ctx context.Context, index []byte, partnerID string, key []byte) (store.User, error) {
	var u store.User
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return recordByIndex(tx, index, bucketUsers, partnerID, key, &u)
	})
	return u, err
}

// FindUsersByEmail implements store.Users.
func (s *Store) FindUsersByEmail(ctx context.Context, partnerID, email string) ([]store.User, error) {
	var out []store.User
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		ids, err := emailHolders(tx, partnerID, email)
		if err != nil {
			return err
		}
		users := nested(tx, bucketUsers, partnerID)
		for _, id := range ids {
			var u store.User
			if err := getJSON(users, id, &u); err != nil {
				return fmt.Errorf("user %q: %w", id, err)
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find users by email %q in partner %q: %w", email, partnerID, err)
	}
	return out, nil
}

// ListUsers implements store.Users; bbolt's key order is the id order.
func (s *Store) ListUsers(ctx context.Context, partnerID string, page store.Page) ([]store.User, error) {
	if err := page.Validate(); err != nil {
		return nil, fmt.Errorf("list users of partner %q: %w", partnerID, err)
	}
	var out []store.User
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = decodePage[store.User](nested(tx, bucketUsers, partnerID), page)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list users of partner %q: %w", partnerID, err)
	}
	return out, nil
}

// ListUsersAt implements store.Users. bbolt keeps no count of a bucket's
// keys, so it walks every key of the partner's users with a cursor, which
// reads the pages of the bucket but decodes only the users it returns:
// linear in the partner's users, yet far cheaper per user than decoding.
func (s *Store) ListUsersAt(ctx context.Context, partnerID string, offset, limit int) ([]store.User, int, error) {
	if offset < 0 || limit < 0 {
		return nil, 0, fmt.Errorf("list users of partner %q at %d, limit %d: negative offset or limit", partnerID, offset, limit)
	}
	var out []store.User
	total := 0
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		users := nested(tx, bucketUsers, partnerID)
		if users == nil {
			return nil
		}
		c := users.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			// Subtracting, not adding, so that a huge offset cannot overflow.
			if total >= offset && total-offset < limit {
				var u store.User
				if err := json.Unmarshal(v, &u); err != nil {
					return fmt.Errorf("decode %q: %w", k, err)
				}
				out = append(out, u)
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list users of partner %q at %d: %w", partnerID, offset, err)
	}
	return out, total, nil
}

// UpdateUser implements store.Users. fn runs once, inside the write
// transaction, so it must not call the Store.
func (s *Store) UpdateUser(ctx context.Context, partnerID, id string, fn func(store.User) (store.User, error)) (store.User, error) {
	var next store.User
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		users := nested(tx, bucketUsers, partnerID)
		var cur store.User
		if err := getJSON(users, id, &cur); err != nil {
			return err
		}
		var err error
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIdentityChanged
		}
		// Memberships change only through the group calls.
		next.Groups = cur.Groups
		next = utcUser(next)
		if err := reindexUser(tx, partnerID, id, &cur, &next); err != nil {
			return err
		}
		return putJSON(users, id, next)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q in partner %q: %w", id, partnerID, err)
	}
	return next, nil
}

// DeleteUser implements store.Users; the user's MFA methods and their
// id and credential index entries go in the same transaction.
func (s *Store) DeleteUser(ctx context.Context, partnerID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		users := nested(tx, bucketUsers, partnerID)
		var u store.User
		if err := getJSON(users, id, &u); err != nil {
			return err
		}
		if _, err := deleteUserSessions(tx, partnerID, id); err != nil {
			return err
		}
		if err := leaveGroups(tx, u); err != nil {
			return err
		}
		if err := deleteUserMFAMethods(tx, partnerID, id); err != nil {
			return err
		}
		if err := reindexUser(tx, partnerID, id, &u, nil); err != nil {
			return err
		}
		return users.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete user %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}

// deleteUserSessions removes the user's sessions and their index bucket,
// returning the ids of the sessions removed.
func deleteUserSessions(tx *bbolt.Tx, partnerID, userID string) ([]string, error) {
	index := nested(tx, bucketUserSessions, partnerID)
	if index == nil || index.Bucket([]byte(userID)) == nil {
		return nil, nil
	}
	var ids []string
	err := index.Bucket([]byte(userID)).ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sessions of user %q: %w", userID, err)
	}
	sessions := nested(tx, bucketSessions, partnerID)
	for _, sid := range ids {
		if err := sessions.Delete([]byte(sid)); err != nil {
			return nil, fmt.Errorf("session %q: %w", sid, err)
		}
	}
	if err := index.DeleteBucket([]byte(userID)); err != nil {
		return nil, fmt.Errorf("sessions of user %q: %w", userID, err)
	}
	return ids, nil
}
