import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TemplateResolver } from '../template/resolver.js';
import { SecretProvisioningError, SecretsManagerError } from './errors.js';

/**
 * The template's `AWS::SecretsManager::Secret` resources, served locally: a literal `SecretString` as given, a
 * `GenerateSecretString` value generated once and kept in `<outDir>/secrets.json`, so a restart (and a receiver
 * configured with it) keeps the same value. Versions and staging labels follow Secrets Manager: `PutSecretValue` makes
 * the new version AWSCURRENT and the old one AWSPREVIOUS.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html
 */

/** One version of a secret. */
export interface SecretVersion {
  readonly versionId: string;
  readonly secretString: string;
  /** Staging labels (AWSCURRENT, AWSPREVIOUS); rewritten when a new version is put. */
  stages: string[];
  readonly createdDate: number;
}

/** A local secret. */
export interface LocalSecret {
  readonly stackName: string;
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  readonly kmsKeyId?: string;
  readonly createdDate: number;
  versions: SecretVersion[];
}

/** Template properties of GenerateSecretString that the local generator honours. */
interface GenerateSecretString {
  readonly PasswordLength?: number;
  readonly ExcludeCharacters?: string;
  readonly ExcludeLowercase?: boolean;
  readonly ExcludeNumbers?: boolean;
  readonly ExcludePunctuation?: boolean;
  readonly ExcludeUppercase?: boolean;
  readonly IncludeSpace?: boolean;
  readonly RequireEachIncludedType?: boolean;
  readonly SecretStringTemplate?: string;
  readonly GenerateStringKey?: string;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
// Secrets Manager's punctuation set (GetRandomPassword).
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/**
 * Generates a value the way Secrets Manager's GetRandomPassword does: PasswordLength (default 32) characters from the
 * included sets, at least one of each when RequireEachIncludedType (default true); with SecretStringTemplate and
 * GenerateStringKey, the JSON template with the password under that key.
 * @throws SecretProvisioningError for options that leave no character or a template that is not a JSON object.
 */
export function generateSecretString(options: GenerateSecretString): string {
  const exclude = new Set(options.ExcludeCharacters ?? '');
  const sets = [
    options.ExcludeLowercase ? '' : LOWER,
    options.ExcludeUppercase ? '' : UPPER,
    options.ExcludeNumbers ? '' : DIGITS,
    options.ExcludePunctuation ? '' : PUNCTUATION,
    options.IncludeSpace ? ' ' : '',
  ]
    .map((set) => [...set].filter((c) => !exclude.has(c)).join(''))
    .filter((set) => set !== '');
  const length = Number(options.PasswordLength ?? 32);
  if (sets.length === 0) throw new SecretProvisioningError('GenerateSecretString excludes every character; include at least one set');
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw new SecretProvisioningError(`GenerateSecretString PasswordLength (${options.PasswordLength}) must be 1-4096`);
  }
  const all = sets.join('');
  const chars = Array.from({ length }, () => all[randomInt(all.length)]!);
  if ((options.RequireEachIncludedType ?? true) && length >= sets.length) {
    // One character of each set at distinct random places.
    const places = [...Array(length).keys()];
    for (let i = places.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [places[i], places[j]] = [places[j]!, places[i]!];
    }
    sets.forEach((set, i) => (chars[places[i]!] = set[randomInt(set.length)]!));
  }
  const password = chars.join('');
  if (options.SecretStringTemplate === undefined) return password;
  let template: unknown;
  try {
    template = JSON.parse(options.SecretStringTemplate);
  } catch (error) {
    throw new SecretProvisioningError(`SecretStringTemplate is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!template || typeof template !== 'object' || Array.isArray(template)) throw new SecretProvisioningError('SecretStringTemplate must be a JSON object');
  if (!options.GenerateStringKey) throw new SecretProvisioningError('SecretStringTemplate needs GenerateStringKey');
  return JSON.stringify({ ...(template as object), [options.GenerateStringKey]: password });
}

/** What `<outDir>/secrets.json` holds: `<stack>/<logicalId>` → versions. */
type StoredSecrets = Record<string, { versions: SecretVersion[]; createdDate: number }>;

/** Options of {@link SecretStore}. */
export interface SecretStoreOptions {
  /** File the generated values and later versions are kept in. @default - memory only */
  readonly file?: string;
  /** Clock (epoch ms). @default Date.now */
  readonly now?: () => number;
}

/** The local secrets of every stack, by ARN and by name. */
export class SecretStore {
  readonly #secrets = new Map<string, LocalSecret>();
  readonly #file?: string;
  readonly #now: () => number;
  #stored: StoredSecrets;

  constructor(options: SecretStoreOptions = {}) {
    this.#file = options.file;
    this.#now = options.now ?? Date.now;
    this.#stored = this.#file && existsSync(this.#file) ? (JSON.parse(readFileSync(this.#file, 'utf8')) as StoredSecrets) : {};
  }

  /**
   * Adds the stack's secrets and makes `Ref` to each resolve to its ARN (as CloudFormation's does).
   * @throws SecretProvisioningError naming the secret when its value cannot be produced.
   */
  addStack(stackName: string, resolver: TemplateResolver, identity: { region: string; accountId: string; partition: string }): LocalSecret[] {
    const added: LocalSecret[] = [];
    for (const [logicalId, resource] of Object.entries(resolver.template.Resources ?? {})) {
      if (resource.Type !== 'AWS::SecretsManager::Secret' || !resolver.isEnabled(logicalId)) continue;
      const properties = (resolver.resolve(resource.Properties ?? {}, `Resources.${logicalId}.Properties`) ?? {}) as Record<string, unknown>;
      const hash = createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex');
      const name = typeof properties.Name === 'string' ? properties.Name : `${logicalId.slice(0, 40)}-${hash.slice(0, 12)}`;
      // Secrets Manager appends a hyphen and six random characters to the name in the ARN.
      const arn = `arn:${identity.partition}:secretsmanager:${identity.region}:${identity.accountId}:secret:${name}-${hash.slice(12, 18)}`;
      const key = `${stackName}/${logicalId}`;
      let stored = this.#stored[key];
      if (!stored) {
        let value: string;
        try {
          if (typeof properties.SecretString === 'string') value = properties.SecretString;
          else value = generateSecretString((properties.GenerateSecretString ?? {}) as GenerateSecretString);
        } catch (error) {
          throw new SecretProvisioningError(`${stackName} ${logicalId}: ${(error as Error).message}`, { cause: error });
        }
        const createdDate = this.#now();
        stored = { createdDate, versions: [{ versionId: randomUUID(), secretString: value, stages: ['AWSCURRENT'], createdDate }] };
        this.#stored[key] = stored;
      }
      const secret: LocalSecret = {
        stackName,
        logicalId,
        name,
        arn,
        description: typeof properties.Description === 'string' ? properties.Description : undefined,
        kmsKeyId: typeof properties.KmsKeyId === 'string' ? properties.KmsKeyId : undefined,
        createdDate: stored.createdDate,
        versions: stored.versions,
      };
      this.#secrets.set(arn, secret);
      resolver.setIdentity(logicalId, { ref: arn, attributes: { Id: arn } });
      added.push(secret);
    }
    this.#save();
    return added;
  }

  /** Every secret. */
  list(): LocalSecret[] {
    return [...this.#secrets.values()];
  }

  /**
   * The secret a SecretId names: its ARN, its ARN without the random suffix, or its name.
   * @throws SecretsManagerError ResourceNotFoundException.
   */
  find(secretId: unknown): LocalSecret {
    if (typeof secretId !== 'string' || secretId === '') {
      throw new SecretsManagerError('InvalidParameterException', 'SecretId is required');
    }
    for (const secret of this.#secrets.values()) {
      if (secret.arn === secretId || secret.name === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    throw new SecretsManagerError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }

  /** The current value of the secret `secretId` names (see {@link find}). */
  currentValue(secretId: string): string {
    return currentVersion(this.find(secretId)).secretString;
  }

  /**
   * Stores a new version that becomes AWSCURRENT; the previous AWSCURRENT becomes AWSPREVIOUS.
   * @returns the new version.
   */
  putValue(secretId: string, secretString: string, versionId: string = randomUUID()): SecretVersion {
    const secret = this.find(secretId);
    for (const version of secret.versions) {
      const wasCurrent = version.stages.includes('AWSCURRENT');
      version.stages = version.stages.filter((s) => s !== 'AWSCURRENT' && s !== 'AWSPREVIOUS');
      if (wasCurrent) version.stages.push('AWSPREVIOUS');
    }
    const version: SecretVersion = { versionId, secretString, stages: ['AWSCURRENT'], createdDate: this.#now() };
    secret.versions.push(version);
    // Keep what Secrets Manager keeps visible: labelled versions.
    secret.versions = secret.versions.filter((v) => v.stages.length > 0);
    this.#stored[`${secret.stackName}/${secret.logicalId}`] = { createdDate: secret.createdDate, versions: secret.versions };
    this.#save();
    return version;
  }

  #save(): void {
    if (!this.#file) return;
    mkdirSync(dirname(this.#file), { recursive: true });
    // The file holds secret values: readable by its owner only.
    writeFileSync(this.#file, `${JSON.stringify(this.#stored, null, 2)}\n`, { mode: 0o600 });
  }
}

/** The AWSCURRENT version. */
export function currentVersion(secret: LocalSecret): SecretVersion {
  return secret.versions.find((v) => v.stages.includes('AWSCURRENT')) ?? secret.versions[secret.versions.length - 1]!;
}

