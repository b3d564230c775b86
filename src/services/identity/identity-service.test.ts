import { describe, expect, it } from "vitest";
import { accessKeyAad } from "./identity-service.ts";

const base = { accessKeyId: "AKIAEXAMPLE", principalArn: "arn:aws:iam::111122223333:user/low", accountId: "111122223333" };

describe("accessKeyAad", () => {
  it("binds the key id, the owner and the account", () => {
    const aad = accessKeyAad(base);
    expect(accessKeyAad({ ...base, principalArn: "arn:aws:iam::111122223333:root" })).not.toBe(aad);
    expect(accessKeyAad({ ...base, accountId: "444455556666" })).not.toBe(aad);
    expect(accessKeyAad({ ...base, accessKeyId: "AKIAOTHER" })).not.toBe(aad);
  });

  it("binds a session's expiry and contents, whatever the order of its keys", () => {
    const session = { roleArn: "arn:aws:iam::111122223333:role/r", roleId: "AROAX", sessionName: "s", policies: ["{}"], tokenHash: "h" };
    const aad = accessKeyAad({ ...base, expiresAt: 1000, session });
    const reordered = { tokenHash: "h", policies: ["{}"], sessionName: "s", roleId: "AROAX", roleArn: "arn:aws:iam::111122223333:role/r" };
    expect(accessKeyAad({ ...base, expiresAt: 1000, session: reordered })).toBe(aad);
    expect(accessKeyAad({ ...base, expiresAt: 2000, session })).not.toBe(aad);
    const { policies: _dropped, ...withoutPolicies } = session;
    expect(accessKeyAad({ ...base, expiresAt: 1000, session: withoutPolicies })).not.toBe(aad);
    expect(accessKeyAad({ ...base, expiresAt: 1000, session: { ...session, roleId: "AROAY" } })).not.toBe(aad);
  });
});
