import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance, listValue } from '../duckdb-api.js';
import type { SqlParser } from './analyzer.js';

/**
 * `json_serialize_sql` over a batch of texts in one query. Parsing needs no tables, so an
 * in-memory database serves any project; nothing is bound or executed.
 */
export class DuckDbSqlParser implements SqlParser {
  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly instance: DuckDBInstance | undefined,
  ) {}

  static async inMemory(): Promise<DuckDbSqlParser> {
    const instance = await DuckDBInstance.create(':memory:');
    return new DuckDbSqlParser(await instance.connect(), instance);
  }

  static onConnection(connection: DuckDBConnection): DuckDbSqlParser {
    return new DuckDbSqlParser(connection, undefined);
  }

  async serialize(texts: readonly string[]): Promise<string[]> {
    const reader = await this.connection.runAndReadAll('SELECT list_transform($1::VARCHAR[], s -> json_serialize_sql(s)) AS j', [
      listValue([...texts]),
    ]);
    const cell = reader.getRows()[0]?.[0] as { items: string[] } | undefined;
    return cell?.items ?? [];
  }

  close(): void {
    if (this.instance) {
      this.connection.closeSync();
      this.instance.closeSync();
    }
  }
}
